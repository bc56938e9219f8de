import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ListingModel } from '../../src/model/listing-model.ts';
import { canSetUpAdapter } from '../../src/node/setup.ts';
import { compileKernels, isMesaAdapter, mesaShaderCache, planListingKernels, warmListingKernels } from '../../src/node/warmup.ts';
import { AtelierGpuError } from '../../src/runtime/errors.ts';
import { useGpu } from '../helpers/gpu.ts';
import { tinyBundle } from '../model/fixtures.ts';

describe("Mesa's shader cache location", () => {
  it('follows MESA_SHADER_CACHE_DIR, then XDG_CACHE_HOME, then ~/.cache, with the cache type and the off switch', () => {
    expect(mesaShaderCache({ HOME: '/h' })).toEqual({ dir: '/h/.cache/mesa_shader_cache_db', disabled: null });
    expect(mesaShaderCache({ HOME: '/h', XDG_CACHE_HOME: '/x' }).dir).toBe('/x/mesa_shader_cache_db');
    expect(mesaShaderCache({ HOME: '/h', XDG_CACHE_HOME: '/x', MESA_SHADER_CACHE_DIR: '/m' }).dir).toBe('/m/mesa_shader_cache_db');
    expect(mesaShaderCache({ HOME: '/h', MESA_DISK_CACHE_MULTI_FILE: '1' }).dir).toBe('/h/.cache/mesa_shader_cache');
    expect(mesaShaderCache({ HOME: '/h', MESA_SHADER_CACHE_DISABLE: 'true' }).disabled).toMatch(/MESA_SHADER_CACHE_DISABLE/);
    expect(mesaShaderCache({ HOME: '/h', MESA_SHADER_CACHE_DISABLE: 'false' }).disabled).toBeNull();
    expect(isMesaAdapter('mesa / software / llvmpipe: Mesa 25.0.7')).toBe(true);
    expect(isMesaAdapter('nvidia / ampere / NVIDIA A100')).toBe(false);
  });
});

describe('first-run adapter setup', () => {
  it('runs only for a missing adapter, once, and not when turned off', () => {
    const missing = new AtelierGpuError('no-adapter', 'none');
    expect(canSetUpAdapter(missing, {})).toBe(true);
    expect(canSetUpAdapter(missing, { ATELIER_SETUP_DONE: '1' })).toBe(false);
    expect(canSetUpAdapter(missing, { ATELIER_NO_SETUP: '1' })).toBe(false);
    expect(canSetUpAdapter(new AtelierGpuError('validation', 'x'), {})).toBe(false);
    expect(canSetUpAdapter(new Error('no-adapter'), {})).toBe(false);
  });
});

describe('compiling a listing ahead (GPU)', () => {
  const gpu = useGpu();
  let model: ListingModel;
  const saved = process.env.MESA_SHADER_CACHE_DIR;
  const dir = mkdtempSync(join(tmpdir(), 'atelier-warmup-'));
  beforeAll(() => {
    model = ListingModel.load(gpu(), tinyBundle(2));
    // Only the stamp's location: the driver read its own cache folder when it started.
    process.env.MESA_SHADER_CACHE_DIR = dir;
  });
  afterAll(() => {
    model?.dispose();
    if (saved === undefined) delete process.env.MESA_SHADER_CACHE_DIR;
    else process.env.MESA_SHADER_CACHE_DIR = saved;
    rmSync(dir, { recursive: true, force: true });
  });

  it("the plan lists a listing's kernels without running any, and leaves the context running dispatches", async () => {
    const specs = await planListingKernels(model, [1, 2]);
    expect(gpu().skipDispatches).toBe(false);
    const files = new Set(specs.map((s) => s.file));
    for (const f of ['conv2d', 'attention', 'heads', 'sampling', 'kv_cache']) expect(files).toContain(f);
    // Listing for real afterwards still computes (dispatches were only skipped during the plan).
    const [a] = await model.list([{ width: 16, height: 24, channels: 3, data: new Uint8Array(16 * 24 * 3).fill(90) }], { maxNewTokens: 3 });
    expect(Object.keys(a.attributes).length).toBeGreaterThan(0);
    expect(Number.isFinite(a.price.value)).toBe(true);
  });

  it('compiles the plan on two devices, stamps the configuration, is a no-op once stamped, and again after the cache is deleted', async () => {
    if (!isMesaAdapter(gpu().adapter.name)) return; // the stamp is for Mesa's cache only
    const progress: number[] = [];
    let total = 0;
    const first = await warmListingKernels(model, { devices: 2, onStart: (n) => (total = n), onProgress: (d) => progress.push(d) });
    expect(first.status).toBe('compiled');
    expect(first.kernels).toBe(total);
    expect(progress).toEqual(Array.from({ length: total }, (_, i) => i + 1));
    expect(readdirSync(join(dir, 'mesa_shader_cache_db')).some((f) => f.startsWith('atelier-kernels-'))).toBe(true);
    const again = await warmListingKernels(model, { onStart: () => expect.unreachable('compiled twice') });
    expect(again.status).toBe('warm');
    rmSync(join(dir, 'mesa_shader_cache_db'), { recursive: true });
    expect(existsSync(join(dir, 'mesa_shader_cache_db'))).toBe(false);
    expect((await warmListingKernels(model, { devices: 1 })).status).toBe('compiled');
  });

  it('compileKernels dispatches each variant once without GPU errors', async () => {
    const specs = gpu().kernels.requested();
    await compileKernels([gpu()], specs.slice(0, 3));
    await gpu().settle();
  });
});
