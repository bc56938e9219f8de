/**
 * Seeded hashing and random numbers that give the same results on every machine and in Chrome:
 * the train/validation split and the training augmentation must not depend on `Math.random`, the
 * platform or the order in which items happen to be visited.
 */

/** 32-bit FNV-1a over the string's UTF-16 code units, finished with murmur3's avalanche mix. */
export function hashString(text: string, seed = 0): number {
  let h = (0x811c9dc5 ^ seed) >>> 0;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return mix32(h);
}

/** murmur3's finaliser: every input bit affects every output bit. */
export function mix32(x: number): number {
  x ^= x >>> 16;
  x = Math.imul(x, 0x85ebca6b);
  x ^= x >>> 13;
  x = Math.imul(x, 0xc2b2ae35);
  x ^= x >>> 16;
  return x >>> 0;
}

/** A number in [0, 1) determined by `text` and `seed` alone. */
export function unitHash(text: string, seed: string): number {
  return hashString(text, hashString(seed)) / 2 ** 32;
}

/** mulberry32: a small, fast generator of floats in [0, 1) from a 32-bit seed. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
}
