import { WgslReflect, ResourceType } from 'wgsl_reflect/wgsl_reflect.module.js';
import { AtelierGpuError } from './errors.ts';

/**
 * Kernel library: WGSL files from `kernels/`, specialised and cached as compute pipelines.
 *
 * A kernel file is fetched by name through a `KernelSourceLoader` (the Node side reads files, the
 * browser side gets them from the bundler), so this module never touches the file system.
 *
 * Specialisation:
 *  - `defines` are prepended as module-scope declarations: a number or boolean becomes
 *    `const NAME = value;` (an abstract literal, usable as u32, i32 or f32), a string becomes a type
 *    alias `alias NAME = value;` (e.g. `{ T: 'f16' }`, which also adds `enable f16;`).
 *  - `constants` are WGSL pipeline-overridable constants (`override NAME: u32 = ...;`).
 * The pipeline cache key is file + entry point + both maps, so each variant compiles once.
 *
 * Bindings come from reflection, not from hand-written layouts: every resource in group 0 used by
 * the entry point is bound by its variable name. A uniform named `params` is special: the recorder
 * fills it from a plain object through the shared uniform ring, packed by the reflected member
 * offsets, and binds it with a dynamic offset.
 */
export type KernelSourceLoader = (file: string) => string;

export type Defines = Record<string, number | boolean | string>;

export interface KernelSpec {
  /** File name in kernels/ without `.wgsl`. */
  file: string;
  /** Compute entry point; defaults to `main`. */
  entry?: string;
  defines?: Defines;
  constants?: Record<string, number>;
  /**
   * Other files in kernels/ whose text is placed before this one: shared helpers that exist in
   * variants (e.g. a row reduction with subgroup operations and one with shared memory, where only
   * the first may say `enable subgroups;`).
   */
  includes?: string[];
}

export type BindingKind = 'read-only-storage' | 'storage' | 'uniform';

export interface BindingInfo {
  name: string;
  binding: number;
  kind: BindingKind;
}

export interface ParamMember {
  name: string;
  offset: number;
  type: 'u32' | 'i32' | 'f32';
}

export interface ParamsLayout {
  binding: number;
  /** Byte size of the struct as bound (multiple of 16). */
  size: number;
  members: ParamMember[];
}

export interface Kernel {
  /** `file:entry` plus the specialisation, for messages and labels. */
  readonly name: string;
  readonly pipeline: GPUComputePipeline;
  readonly bindGroupLayout: GPUBindGroupLayout;
  readonly bindings: ReadonlyMap<string, BindingInfo>;
  readonly params: ParamsLayout | null;
  readonly workgroupSize: readonly [number, number, number];
  /** Small integer id, used in bind group cache keys. */
  readonly id: number;
}

const HOISTED = /^\s*(enable|requires|diagnostic)\b[^;]*;\s*$/;

/** Prepends `defines` to a WGSL source, keeping `enable`/`requires` directives first. */
export function specialiseSource(source: string, defines: Defines = {}): string {
  const directives: string[] = [];
  const body: string[] = [];
  for (const line of source.split('\n')) (HOISTED.test(line) ? directives : body).push(line);
  const decls: string[] = [];
  for (const [name, value] of Object.entries(defines)) {
    if (typeof value === 'string') {
      decls.push(`alias ${name} = ${value};`);
      if (/\bf16\b/.test(value) && !directives.some((d) => /enable\s+f16/.test(d))) directives.push('enable f16;');
    } else if (typeof value === 'boolean') {
      decls.push(`const ${name} = ${value};`);
    } else {
      if (!Number.isFinite(value)) throw new Error(`define ${name} must be finite, got ${value}`);
      decls.push(`const ${name} = ${Number.isInteger(value) ? value.toFixed(0) : String(value)};`);
    }
  }
  return [...directives, ...decls, ...body].join('\n');
}

function stableKey(spec: KernelSpec): string {
  const sorted = (o?: Record<string, unknown>) =>
    o ? Object.keys(o).sort().map((k) => `${k}=${String(o[k])}`).join(',') : '';
  const includes = spec.includes?.length ? `|+${spec.includes.join('+')}` : '';
  return `${spec.file}:${spec.entry ?? 'main'}|${sorted(spec.defines)}|${sorted(spec.constants)}${includes}`;
}

function scalarType(typeName: string, kernel: string, member: string): ParamMember['type'] {
  if (typeName === 'u32' || typeName === 'i32' || typeName === 'f32') return typeName;
  throw new AtelierGpuError('shader', `${kernel}: params.${member} has type ${typeName}; params members must be u32, i32 or f32 scalars`);
}

export interface KernelCacheStats {
  hits: number;
  misses: number;
  pipelines: number;
}

export class KernelLibrary {
  private readonly cache = new Map<string, Kernel>();
  /** The spec of every variant compiled, by cache key, in first-use order (see requested()). */
  private readonly specs = new Map<string, KernelSpec>();
  private readonly sources = new Map<string, string>();
  private nextId = 1;
  private stats = { hits: 0, misses: 0 };

  constructor(
    private readonly device: GPUDevice,
    private readonly loader: KernelSourceLoader,
  ) {}

  private source(file: string): string {
    let src = this.sources.get(file);
    if (src === undefined) {
      try {
        src = this.loader(file);
      } catch (e) {
        throw new AtelierGpuError('shader', `kernel file kernels/${file}.wgsl could not be loaded: ${(e as Error).message}`);
      }
      this.sources.set(file, src);
    }
    return src;
  }

  /** The pipeline for a kernel variant, compiled synchronously on first use and cached. */
  get(spec: KernelSpec): Kernel {
    const key = stableKey(spec);
    const hit = this.cache.get(key);
    if (hit) {
      this.stats.hits++;
      return hit;
    }
    this.stats.misses++;
    const prepared = this.prepare(spec, key);
    const pipeline = this.device.createComputePipeline(prepared.descriptor);
    const kernel = { ...prepared.kernel, pipeline };
    this.cache.set(key, kernel);
    this.specs.set(key, spec);
    return kernel;
  }

  /** Compile variants ahead of use (e.g. at model load) with createComputePipelineAsync. */
  async precompile(specs: KernelSpec[]): Promise<void> {
    await Promise.all(
      specs.map(async (spec) => {
        const key = stableKey(spec);
        if (this.cache.has(key)) return;
        const prepared = this.prepare(spec, key);
        let pipeline: GPUComputePipeline;
        try {
          pipeline = await this.device.createComputePipelineAsync(prepared.descriptor);
        } catch (e) {
          throw new AtelierGpuError('shader', `kernel ${prepared.kernel.name} failed to compile: ${(e as Error).message}`);
        }
        if (!this.cache.has(key)) {
          this.cache.set(key, { ...prepared.kernel, pipeline });
          this.specs.set(key, spec);
        }
      }),
    );
  }

  /**
   * Every variant this library has compiled, in first-use order: what a piece of work needs, for
   * compiling it ahead (src/node/warmup.ts records a listing's this way).
   */
  requested(): KernelSpec[] {
    return [...this.specs.values()];
  }

  /** The source a variant compiles from (defines and includes applied): its identity in a cache key. */
  sourceOf(spec: KernelSpec): string {
    return specialiseSource([...(spec.includes ?? []), spec.file].map((f) => this.source(f)).join('\n'), spec.defines);
  }

  getStats(): KernelCacheStats {
    return { ...this.stats, pipelines: this.cache.size };
  }

  private prepare(spec: KernelSpec, key: string) {
    const entry = spec.entry ?? 'main';
    const name = key;
    const files = [...(spec.includes ?? []), spec.file];
    const code = specialiseSource(files.map((f) => this.source(f)).join('\n'), spec.defines);
    let reflect: WgslReflect;
    try {
      reflect = new WgslReflect(code);
    } catch (e) {
      throw new AtelierGpuError('shader', `kernel ${name}: WGSL could not be parsed: ${(e as Error).message}`);
    }
    const fn = reflect.entry.compute.find((f) => f.name === entry);
    if (!fn) throw new AtelierGpuError('shader', `kernel ${name}: no @compute entry point '${entry}'`);

    const bindings = new Map<string, BindingInfo>();
    let params: ParamsLayout | null = null;
    const entries: GPUBindGroupLayoutEntry[] = [];
    const resources = [...fn.resources].sort((a, b) => a.binding - b.binding);
    for (const res of resources) {
      if (res.group !== 0) throw new AtelierGpuError('shader', `kernel ${name}: ${res.name} is in group ${res.group}; kernels use group 0 only`);
      if (res.resourceType === ResourceType.Uniform) {
        if (res.name === 'params') {
          const members = (res.members ?? []).map((m) => ({ name: m.name, offset: m.offset, type: scalarType(m.type.name, name, m.name) }));
          params = { binding: res.binding, size: Math.ceil(res.size / 16) * 16, members };
          entries.push({ binding: res.binding, visibility: GPUShaderStage.COMPUTE, buffer: { type: 'uniform', hasDynamicOffset: true } });
        } else {
          bindings.set(res.name, { name: res.name, binding: res.binding, kind: 'uniform' });
          entries.push({ binding: res.binding, visibility: GPUShaderStage.COMPUTE, buffer: { type: 'uniform' } });
        }
      } else if (res.resourceType === ResourceType.Storage) {
        const kind: BindingKind = res.access === 'read_write' || res.access === 'write' ? 'storage' : 'read-only-storage';
        bindings.set(res.name, { name: res.name, binding: res.binding, kind });
        entries.push({ binding: res.binding, visibility: GPUShaderStage.COMPUTE, buffer: { type: kind } });
      } else {
        throw new AtelierGpuError('shader', `kernel ${name}: resource ${res.name} is not a buffer; compute kernels here bind buffers only`);
      }
    }
    const module = this.device.createShaderModule({ code, label: name });
    const bindGroupLayout = this.device.createBindGroupLayout({ entries, label: name });
    const layout = this.device.createPipelineLayout({ bindGroupLayouts: [bindGroupLayout], label: name });
    const descriptor: GPUComputePipelineDescriptor = {
      layout,
      label: name,
      compute: { module, entryPoint: entry, constants: spec.constants },
    };
    const ws = fn.workgroupSize ?? [1, 1, 1];
    const kernel: Omit<Kernel, 'pipeline'> = {
      name,
      bindGroupLayout,
      bindings,
      params,
      workgroupSize: [ws[0], ws[1], ws[2]],
      id: this.nextId++,
    };
    return { descriptor, kernel };
  }
}
