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

/** Dawn's node bindings, loaded once. Vulkan loaders need XDG_RUNTIME_DIR; give them one if unset. */
export function nodeGpu(): Promise<GPU> {
  dawn ??= (async () => {
    if (!process.env.XDG_RUNTIME_DIR) {
      const dir = join(tmpdir(), `atelier-xdg-${process.getuid?.() ?? 0}`);
      mkdirSync(dir, { recursive: true, mode: 0o700 });
      process.env.XDG_RUNTIME_DIR = dir;
    }
    const webgpu = await import('webgpu');
    Object.assign(globalThis, webgpu.globals);
    return webgpu.create([]) as unknown as GPU;
  })();
  return dawn;
}

/** A GPU context for Node: Dawn's bindings and kernels read from disk. Destroy it before exiting. */
export async function createNodeContext(options: Partial<GpuContextOptions> = {}): Promise<GpuContext> {
  return GpuContext.create({ gpu: await nodeGpu(), kernelSource: fileKernelSource(), ...options });
}
