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

/** Deterministic pseudo-random numbers (mulberry32) so failures reproduce. */
export function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function randomArray(n: number, seed: number, scale = 1): Float32Array {
  const r = rng(seed);
  return Float32Array.from({ length: n }, () => (r() * 2 - 1) * scale);
}

/** Largest |got - want| / (atol + rtol * |want|); <= 1 means within tolerance. */
export function maxRelErr(got: ArrayLike<number>, want: ArrayLike<number>, atol: number, rtol: number): number {
  if (got.length !== want.length) throw new Error(`length ${got.length} != ${want.length}`);
  let worst = 0;
  for (let i = 0; i < got.length; i++) {
    const e = Math.abs(got[i] - want[i]) / (atol + rtol * Math.abs(want[i]));
    if (!(e <= worst)) worst = Number.isNaN(e) ? Infinity : e;
  }
  return worst;
}
