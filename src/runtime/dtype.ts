/** Element types a Tensor can hold. f16 needs the adapter's `shader-f16`; every op keeps an f32 path. */
export type DType = 'f32' | 'f16' | 'u32' | 'i32';

export const BYTES_PER_ELEMENT: Record<DType, number> = { f32: 4, f16: 2, u32: 4, i32: 4 };

export type HostArray = Float32Array | Uint32Array | Int32Array | Uint16Array;

const f32Scratch = new Float32Array(1);
const u32Scratch = new Uint32Array(f32Scratch.buffer);

/** IEEE binary32 -> binary16 bits, round to nearest even, with overflow to infinity and subnormals. */
export function f32ToF16Bits(value: number): number {
  f32Scratch[0] = value;
  const x = u32Scratch[0];
  const sign = (x >>> 16) & 0x8000;
  const exp = (x >>> 23) & 0xff;
  let mant = x & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0); // inf / nan
  let e = exp - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign;
    mant |= 0x800000;
    const shift = 14 - e;
    let half = mant >>> shift;
    const rem = mant & ((1 << shift) - 1);
    const halfway = 1 << (shift - 1);
    if (rem > halfway || (rem === halfway && (half & 1))) half++;
    return sign | half;
  }
  let half = (e << 10) | (mant >>> 13);
  const rem = mant & 0x1fff;
  if (rem > 0x1000 || (rem === 0x1000 && (half & 1))) half++;
  return sign | half;
}

function decodeF16(bits: number): number {
  const sign = bits & 0x8000 ? -1 : 1;
  const exp = (bits >>> 10) & 0x1f;
  const mant = bits & 0x3ff;
  if (exp === 0) return sign * mant * 2 ** -24;
  if (exp === 0x1f) return mant ? NaN : sign * Infinity;
  return sign * (1 + mant / 1024) * 2 ** (exp - 15);
}

/** Every f16 bit pattern's value, built on first use: loading f16 weights widens millions of values. */
let f16Table: Float32Array | null = null;
function f16Values(): Float32Array {
  f16Table ??= Float32Array.from({ length: 0x10000 }, (_, bits) => decodeF16(bits));
  return f16Table;
}

export function f16BitsToF32(bits: number): number {
  return f16Values()[bits & 0xffff];
}

export function toF16Array(values: ArrayLike<number>): Uint16Array {
  const out = new Uint16Array(values.length);
  for (let i = 0; i < values.length; i++) out[i] = f32ToF16Bits(values[i]);
  return out;
}

export function fromF16Array(bits: Uint16Array): Float32Array {
  const table = f16Values();
  const out = new Float32Array(bits.length);
  for (let i = 0; i < bits.length; i++) out[i] = table[bits[i]];
  return out;
}

/** The f16 bits of `values` when f16 holds every one exactly (e.g. weights stored in f16), else null. */
export function exactF16(values: Float32Array): Uint16Array | null {
  const bits = toF16Array(values);
  const table = f16Values();
  for (let i = 0; i < values.length; i++) if (table[bits[i]] !== values[i] && !Number.isNaN(values[i])) return null;
  return bits;
}

export function shapeSize(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) {
    if (!Number.isInteger(d) || d < 0) throw new Error(`invalid tensor shape [${shape.join(', ')}]`);
    n *= d;
  }
  return n;
}
