import { mkdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { GpuContext, type GpuContextOptions } from '../runtime/gpu.ts';
import type { KernelSourceLoader } from '../runtime/kernels.ts';

/** The repository root (kernels/, weights/), found from this file's location. */
export const PROJECT_ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

/** Reads `kernels/<name>.wgsl` from disk. */
export function fileKernelSource(dir = join(PROJECT_ROOT, 'kernels')): KernelSourceLoader {
  return (name) => readFileSync(join(dir, `${name}.wgsl`), 'utf8');
}

let dawn: Promise<GPU> | null = null;

export interface NodeGpuOptions {
  /**
   * Worker threads of a software Vulkan driver (Mesa lavapipe reads LP_NUM_THREADS when Dawn
   * starts it; the default is one per core). Latency-bound work (listing one photo) runs faster
   * with a core left to the JS thread, which records each decode step while the GPU runs the last
   * one and polls Dawn while it waits: measured on 2 cores, 250–303 ms per listing with one
   * lavapipe thread against 300–322 ms with two (`npm run bench:e2e`), at the same batched
   * throughput. Training, bound by large matmuls, keeps every core. An LP_NUM_THREADS set by the
   * user wins; only the first context of a process decides (the driver starts once).
   */
  softwareThreads?: number;
}

/** Dawn's node bindings, loaded once. Vulkan loaders need XDG_RUNTIME_DIR; give them one if unset. */
export function nodeGpu(options: NodeGpuOptions = {}): Promise<GPU> {
  dawn ??= (async () => {
    if (!process.env.XDG_RUNTIME_DIR) {
      const dir = join(tmpdir(), `atelier-xdg-${process.getuid?.() ?? 0}`);
      mkdirSync(dir, { recursive: true, mode: 0o700 });
      process.env.XDG_RUNTIME_DIR = dir;
    }
    if (options.softwareThreads && !process.env.LP_NUM_THREADS) process.env.LP_NUM_THREADS = String(options.softwareThreads);
    const webgpu = await import('webgpu');
    Object.assign(globalThis, webgpu.globals);
    return webgpu.create([]) as unknown as GPU;
  })();
  return dawn;
}

/** A GPU context for Node: Dawn's bindings and kernels read from disk. Destroy it before exiting. */
export async function createNodeContext(options: Partial<GpuContextOptions> & NodeGpuOptions = {}): Promise<GpuContext> {
  const { softwareThreads, ...context } = options;
  return GpuContext.create({ gpu: await nodeGpu({ softwareThreads }), kernelSource: fileKernelSource(), ...context });
}
