/// <reference types="vite/client" />
/**
 * The browser's kernel loader: every `kernels/*.wgsl` is inlined into the bundle by Vite at build
 * time (the page makes no requests for shaders, so the built files work from any static host), and
 * looked up by name the way `src/node/gpu.ts` reads them from disk.
 */
import type { KernelSourceLoader } from '../src/runtime/kernels.ts';

const files = import.meta.glob<string>('../kernels/*.wgsl', { query: '?raw', import: 'default', eager: true });

const byName = new Map(Object.entries(files).map(([path, source]) => [path.replace(/^.*\/([^/]+)\.wgsl$/, '$1'), source]));

/** Kernel names bundled into this build, e.g. for the kernel-check page's report. */
export const bundledKernelNames: readonly string[] = [...byName.keys()].sort();

export const bundledKernelSource: KernelSourceLoader = (name) => {
  const source = byName.get(name);
  if (source === undefined) throw new Error(`kernels/${name}.wgsl is not in this build (bundled: ${bundledKernelNames.join(', ') || 'none'}); rebuild the page after adding a kernel`);
  return source;
};
