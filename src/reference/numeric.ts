/**
 * Seeded random inputs and the tolerance measure that every kernel check uses, in Node tests and in
 * the browser's kernel-check page alike (so browser-safe: no node:* imports).
 */

import { seededRandom } from '../data/random.ts';

/** Deterministic pseudo-random numbers in [0, 1) (mulberry32) so failures reproduce. */
export const rng = seededRandom;

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
