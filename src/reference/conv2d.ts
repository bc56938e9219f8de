/** CPU reference (float64) for kernels/conv2d.wgsl: NHWC input, weights [Cout, kh, kw, Cin]. */
import { epilogueRef, type EpilogueRef } from './matmul.ts';

export interface Conv2dRefOptions extends EpilogueRef {
  stride?: number;
  padding?: number;
}

export function conv2dRef(
  x: ArrayLike<number>,
  xShape: readonly number[],
  w: ArrayLike<number>,
  wShape: readonly number[],
  opts: Conv2dRefOptions = {},
): { data: Float64Array; shape: number[] } {
  const [batch, height, width, cin] = xShape;
  const [cout, kh, kw] = wShape;
  const s = opts.stride ?? 1;
  const p = opts.padding ?? 0;
  const outH = Math.floor((height + 2 * p - kh) / s) + 1;
  const outW = Math.floor((width + 2 * p - kw) / s) + 1;
  const product = new Float64Array(batch * outH * outW * cout);
  for (let n = 0; n < batch; n++) {
    for (let oy = 0; oy < outH; oy++) {
      for (let ox = 0; ox < outW; ox++) {
        for (let co = 0; co < cout; co++) {
          let sum = 0;
          for (let ky = 0; ky < kh; ky++) {
            const iy = oy * s - p + ky;
            if (iy < 0 || iy >= height) continue;
            for (let kx = 0; kx < kw; kx++) {
              const ix = ox * s - p + kx;
              if (ix < 0 || ix >= width) continue;
              for (let ci = 0; ci < cin; ci++) {
                sum += x[((n * height + iy) * width + ix) * cin + ci] * w[((co * kh + ky) * kw + kx) * cin + ci];
              }
            }
          }
          product[((n * outH + oy) * outW + ox) * cout + co] = sum;
        }
      }
    }
  }
  return { data: epilogueRef(product, cout, opts), shape: [batch, outH, outW, cout] };
}
