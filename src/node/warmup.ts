/**
 * Ahead-of-time kernel compilation for the listing (Node), so a first run does not look hung.
 *
 * On Mesa lavapipe a pipeline is compiled to machine code (LLVM) the first time it is dispatched,
 * not when it is created: a cold listing spends 10-25 s on a 2-core machine compiling ~20 kernels
 * one after another on the driver's queue thread, a listing with Mesa's on-disk shader cache warm
 * none. So before the first listing of a configuration:
 *
 *   1. plan      one listing of a synthetic image per catalog with `ctx.skipDispatches` on: every
 *                kernel variant it needs is requested (pipelines created: cheap) and nothing runs
 *   2. compile   each variant dispatched once (one workgroup over scratch buffers) on the engine's
 *                own device and, when cores are idle, extra devices, whose driver queue threads
 *                compile in parallel (largest kernels first), with progress; the engine's device
 *                keeps its share in memory, Mesa's disk cache keeps everything for later runs
 *   3. stamp     a small file in Mesa's cache folder marks the configuration as compiled
 *
 * The stamp's key hashes what decides the compiled code: the adapter (driver and Mesa version),
 * the `webgpu` package, the model config, the batch sizes, the precision, and the text of the
 * kernels and of the engine and model code that specialises them. It lives inside Mesa's cache
 * folder, so deleting that folder also deletes the stamp. Adapters other than Mesa's, and a
 * disabled Mesa cache (MESA_SHADER_CACHE_DISABLE), are left alone.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { availableParallelism, homedir, loadavg } from 'node:os';
import { join } from 'node:path';
import type { PixelImage } from '../data/preprocess.ts';
import type { ListingModel } from '../model/listing-model.ts';
import type { GpuContext } from '../runtime/gpu.ts';
import type { KernelSpec } from '../runtime/kernels.ts';
import { createNodeContext, PROJECT_ROOT } from './gpu.ts';

export interface ShaderCacheLocation {
  /** The folder Mesa keeps compiled shaders in (it may not exist yet). */
  dir: string;
  /** Why Mesa will not cache, or null when it will. */
  disabled: string | null;
}

const truthy = (v: string | undefined) => v !== undefined && /^(1|true|yes|y)$/i.test(v.trim());

/**
 * Where Mesa (25) keeps its on-disk shader cache, by its own rules: MESA_SHADER_CACHE_DIR, else
 * $XDG_CACHE_HOME, else ~/.cache; inside it `mesa_shader_cache_db` (the default database cache),
 * `mesa_shader_cache` (MESA_DISK_CACHE_MULTI_FILE=1) or `mesa_shader_cache_sf`
 * (MESA_DISK_CACHE_SINGLE_FILE=1).
 */
export function mesaShaderCache(env: NodeJS.ProcessEnv = process.env): ShaderCacheLocation {
  const base = env.MESA_SHADER_CACHE_DIR || env.MESA_GLSL_CACHE_DIR || env.XDG_CACHE_HOME || join(env.HOME || homedir(), '.cache');
  const name = truthy(env.MESA_DISK_CACHE_SINGLE_FILE) ? 'mesa_shader_cache_sf' : truthy(env.MESA_DISK_CACHE_MULTI_FILE) ? 'mesa_shader_cache' : 'mesa_shader_cache_db';
  const off = truthy(env.MESA_SHADER_CACHE_DISABLE) ? 'MESA_SHADER_CACHE_DISABLE' : truthy(env.MESA_GLSL_CACHE_DISABLE) ? 'MESA_GLSL_CACHE_DISABLE' : null;
  return { dir: join(base, name), disabled: off ? `${off} is set` : null };
}

/** True for an adapter served by a Mesa driver (lavapipe, or a Mesa hardware driver). */
export function isMesaAdapter(name: string): boolean {
  return /mesa|llvmpipe|lavapipe/i.test(name);
}

/** Files whose text decides which kernel variants a listing compiles and what they compile to. */
function sourceFiles(): string[] {
  const out: string[] = [];
  const walk = (dir: string, ext: string) => {
    if (!existsSync(dir)) return;
    for (const e of readdirSync(dir, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
      const p = join(dir, e.name);
      if (e.isDirectory()) walk(p, ext);
      else if (e.name.endsWith(ext)) out.push(p);
    }
  };
  walk(join(PROJECT_ROOT, 'kernels'), '.wgsl');
  walk(join(PROJECT_ROOT, 'src', 'runtime'), '.ts');
  walk(join(PROJECT_ROOT, 'src', 'model'), '.ts');
  return out;
}

function webgpuVersion(): string {
  try {
    return (JSON.parse(readFileSync(join(PROJECT_ROOT, 'node_modules', 'webgpu', 'package.json'), 'utf8')) as { version: string }).version;
  } catch {
    return 'unknown';
  }
}

/** The stamp key of a listing configuration (see the module comment). */
export function warmupKey(model: ListingModel, batches: readonly number[], files = sourceFiles()): string {
  const { ctx } = model;
  const hash = createHash('sha256').update(
    JSON.stringify({ v: 1, adapter: ctx.adapter.name, features: ctx.features, webgpu: webgpuVersion(), config: model.config, batches: [...new Set(batches)].sort((a, b) => a - b), halfWeights: model.halfCopies.size > 0, catalogs: model.catalogNames }),
  );
  for (const f of files) hash.update(f.slice(PROJECT_ROOT.length)).update(readFileSync(f));
  return hash.digest('hex').slice(0, 20);
}

const STAMP_PREFIX = 'atelier-kernels-';

function stampPath(cache: ShaderCacheLocation, key: string): string {
  return join(cache.dir, `${STAMP_PREFIX}${key}.json`);
}

/** A synthetic product photo: a soft-coloured garment shape on a white background. */
export function syntheticPhoto(width = 120, height = 180): PixelImage {
  const data = new Uint8Array(width * height * 3).fill(255);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const inside = Math.abs(x - width / 2) < width * (0.2 + (0.15 * y) / height) && y > height * 0.1 && y < height * 0.9;
      if (!inside) continue;
      const i = (y * width + x) * 3;
      data[i] = 40 + ((x * 3) % 60);
      data[i + 1] = 70 + ((y * 2) % 50);
      data[i + 2] = 120;
    }
  }
  return { width, height, channels: 3, data };
}

/**
 * The kernel variants one listing needs at each batch size (every catalog's heads), found by
 * running listings with dispatches skipped: nothing is computed, every pipeline is created.
 */
export async function planListingKernels(model: ListingModel, batches: readonly number[]): Promise<KernelSpec[]> {
  const { ctx } = model;
  ctx.skipDispatches = true;
  try {
    for (const batch of new Set(batches)) {
      const images = Array.from({ length: batch }, () => syntheticPhoto());
      for (const catalog of model.catalogNames) {
        // A few steps reach every decode kernel (step 0 differs from later ones in places).
        await model.list(images, { catalog, maxNewTokens: 4, stopAtEos: false });
      }
    }
  } finally {
    ctx.skipDispatches = false;
  }
  return ctx.kernels.requested();
}

/** Scratch buffers for one device: one per binding slot, large enough for any struct a kernel declares. */
class Scratch {
  private readonly buffers: GPUBuffer[] = [];
  constructor(private readonly device: GPUDevice) {}
  get(i: number): GPUBuffer {
    while (this.buffers.length <= i) {
      this.buffers.push(this.device.createBuffer({ size: 1 << 16, usage: GPUBufferUsage.STORAGE | GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST, label: 'warmup-scratch' }));
    }
    return this.buffers[i];
  }
  destroy(): void {
    for (const b of this.buffers) b.destroy();
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Dispatches each variant once (one workgroup, scratch buffers, every parameter 1) so the driver
 * compiles it, spreading the variants over `contexts` (each device compiles on its own driver
 * thread), largest source first. Waits sleep first for the time a variant of that size took so far,
 * so the JS thread is not polling Dawn on a core the compiler needs (as ctx.settle does).
 */
export async function compileKernels(contexts: readonly GpuContext[], specs: readonly KernelSpec[], onDone?: (done: number, total: number) => void): Promise<void> {
  const sized = specs.map((spec) => ({ spec, chars: contexts[0].kernels.sourceOf(spec).length })).sort((a, b) => b.chars - a.chars);
  let next = 0;
  let done = 0;
  // Milliseconds per source character: starts low (a variant Mesa has cached takes milliseconds),
  // rises to what compiling takes, halves whenever a variant was done before the sleep ended.
  let msPerChar = 0.005;
  await Promise.all(
    contexts.map(async (ctx) => {
      const scratch = new Scratch(ctx.device);
      try {
        while (next < sized.length) {
          const { spec, chars } = sized[next++];
          const kernel = ctx.kernels.get(spec);
          const bindings: Record<string, GPUBuffer> = {};
          let slot = 0;
          for (const name of kernel.bindings.keys()) bindings[name] = scratch.get(slot++);
          const params = kernel.params ? Object.fromEntries(kernel.params.members.map((m) => [m.name, 1])) : null;
          const t0 = performance.now();
          const rec = ctx.recorder('warmup');
          rec.dispatch(kernel, bindings, params, [1]);
          rec.submit();
          const nap = 0.8 * msPerChar * chars;
          if (nap > 1) await sleep(nap);
          const woke = performance.now();
          await ctx.device.queue.onSubmittedWorkDone();
          const t1 = performance.now();
          msPerChar = t1 - woke < 2 ? msPerChar / 2 : 0.6 * msPerChar + (0.4 * (t1 - t0)) / chars;
          onDone?.(++done, sized.length);
        }
        await ctx.settle(0); // reports a GPU error of the dispatches above, if any
      } finally {
        scratch.destroy();
      }
    }),
  );
}

export interface WarmupOptions {
  /** Batch sizes the caller will list at (default [1]). */
  batches?: readonly number[];
  /** Compile even when the stamp says this configuration is compiled. */
  force?: boolean;
  /** Devices compiling at once, the engine's included (default: idleCores(), at most 4). */
  devices?: number;
  /** Called when compilation starts (with the number of kernels) and after each kernel. */
  onStart?: (total: number) => void;
  onProgress?: (done: number, total: number) => void;
}

export interface WarmupResult {
  /** 'warm': the stamp was there; 'compiled': compiled now; 'skipped': not a Mesa adapter or no cache. */
  status: 'warm' | 'compiled' | 'skipped';
  reason?: string;
  kernels: number;
  ms: number;
  cacheDir: string | null;
}

/**
 * Cores not busy with other work (cores minus the 1-minute load average, at least 1): compiling on
 * more devices than that is slower, not faster. Measured on 2 cores beside a training run (load
 * 4.8-5.6): 21.4 s with one device, 25.6-27.4 s with two.
 */
export function idleCores(): number {
  return Math.max(1, Math.round(availableParallelism() - loadavg()[0]));
}

/** Is this listing configuration compiled into Mesa's disk cache? (Cheap: hashes ~70 source files.) */
export function listingKernelsWarm(model: ListingModel, batches: readonly number[] = [1]): boolean {
  const cache = mesaShaderCache();
  if (cache.disabled || !isMesaAdapter(model.ctx.adapter.name)) return true;
  return existsSync(stampPath(cache, warmupKey(model, batches)));
}

/** Compiles a listing's kernels ahead unless they already are (see the module comment). */
export async function warmListingKernels(model: ListingModel, options: WarmupOptions = {}): Promise<WarmupResult> {
  const t0 = performance.now();
  const batches = options.batches ?? [1];
  const cache = mesaShaderCache();
  if (!isMesaAdapter(model.ctx.adapter.name)) return { status: 'skipped', reason: `not a Mesa adapter (${model.ctx.adapter.name})`, kernels: 0, ms: 0, cacheDir: null };
  if (cache.disabled) return { status: 'skipped', reason: `Mesa's shader cache is off (${cache.disabled}): every run compiles its kernels`, kernels: 0, ms: 0, cacheDir: null };
  const key = warmupKey(model, batches);
  const stamp = stampPath(cache, key);
  if (!options.force && existsSync(stamp)) return { status: 'warm', kernels: 0, ms: performance.now() - t0, cacheDir: cache.dir };

  const specs = await planListingKernels(model, batches);
  options.onStart?.(specs.length);
  const wanted = Math.max(1, Math.min(options.devices ?? idleCores(), 4, specs.length));
  const extra: GpuContext[] = [];
  try {
    for (let i = 1; i < wanted; i++) extra.push(await createNodeContext({ softwareThreads: 1 }));
  } catch {
    // One device is enough; more only compile faster.
  }
  try {
    await compileKernels([model.ctx, ...extra], specs, options.onProgress);
  } finally {
    for (const c of extra) c.destroy();
  }
  mkdirSync(cache.dir, { recursive: true });
  const tmp = `${stamp}.tmp-${process.pid}`;
  writeFileSync(tmp, JSON.stringify({ adapter: model.ctx.adapter.name, batches, kernels: specs.length, compiled_ms: Math.round(performance.now() - t0), at: new Date().toISOString() }) + '\n');
  renameSync(tmp, stamp);
  pruneStamps(cache, 8);
  return { status: 'compiled', kernels: specs.length, ms: performance.now() - t0, cacheDir: cache.dir };
}

/** Keeps the `keep` newest stamps (each kernel or code change makes a new key). */
function pruneStamps(cache: ShaderCacheLocation, keep: number): void {
  const stamps = readdirSync(cache.dir)
    .filter((f) => f.startsWith(STAMP_PREFIX) && f.endsWith('.json'))
    .map((f) => ({ f, t: statSync(join(cache.dir, f)).mtimeMs }))
    .sort((a, b) => b.t - a.t);
  for (const { f } of stamps.slice(keep)) rmSync(join(cache.dir, f), { force: true });
}
