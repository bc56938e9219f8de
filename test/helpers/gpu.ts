import { afterAll, beforeAll } from 'vitest';
import { createNodeContext } from '../../src/node/gpu.ts';
import type { GpuContext, GpuContextOptions } from '../../src/runtime/gpu.ts';

/**
 * One GPU context per test file: created in beforeAll, destroyed in afterAll (Dawn must be torn
 * down before the worker exits). Returns a getter for use inside tests.
 */
export function useGpu(options: Partial<GpuContextOptions> = {}): () => GpuContext {
  let ctx: GpuContext | null = null;
  beforeAll(async () => {
    ctx = await createNodeContext(options);
  });
  afterAll(() => {
    ctx?.destroy();
    ctx = null;
  });
  return () => {
    if (!ctx) throw new Error('GPU context is not ready (useGpu must be called at file or describe level)');
    return ctx;
  };
}

// Shared with the browser's kernel-check page, so they live in a browser-safe module.
export { maxRelErr, randomArray, rng } from '../../src/reference/numeric.ts';
