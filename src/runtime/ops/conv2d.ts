import { AtelierGpuError } from '../errors.ts';
import type { Recorder } from '../recorder.ts';
import type { Tensor } from '../tensor.ts';
import { ceilDiv } from './grid.ts';
import { padAxis } from './layout.ts';
import { GEMM_TILE, gemmSharing, prepareEpilogue, roundUp4, weightType, type Epilogue } from './matmul.ts';

/**
 * 2-D convolution as an implicit GEMM (kernels/conv2d.wgsl over kernels/gemm.wgsl).
 *
 * Layouts: x is NHWC [N, H, W, Cin], the weights are [Cout, kh, kw, Cin] (each output channel's
 * filter in the order its input is read), the output is NHWC [N, OH, OW, Cout]. NHWC because the
 * GEMM's k then runs along contiguous channels (vec4 loads when Cin % 4 == 0), and the weights are
 * already the K-major operand the GEMM reads; see the kernel's header.
 */
export interface Conv2dOptions extends Epilogue {
  /** Same in both directions; default 1. */
  stride?: number;
  /** Zeros on each side of both spatial axes; default 0. */
  padding?: number;
}

/** Output size along one axis. */
export const convOutputSize = (input: number, kernel: number, stride: number, padding: number) => Math.floor((input + 2 * padding - kernel) / stride) + 1;

/**
 * out = act(alpha * conv(x, w) + bias) (+ out when accumulate). w may be f16 (weights; f32
 * arithmetic) when kh * kw * Cin is a multiple of 4.
 */
export function conv2d(rec: Recorder, x: Tensor, w: Tensor, opts: Conv2dOptions = {}): Tensor {
  const stride = opts.stride ?? 1;
  const padding = opts.padding ?? 0;
  const shapes = `x ${x.dtype} [${x.shape.join(', ')}] (NHWC), w ${w.dtype} [${w.shape.join(', ')}] ([Cout, kh, kw, Cin]), stride ${stride}, padding ${padding}`;
  if (x.shape.length !== 4 || w.shape.length !== 4 || x.dtype !== 'f32' || (w.dtype !== 'f32' && w.dtype !== 'f16')) {
    throw new AtelierGpuError('usage', `conv2d: needs f32 x [N, H, W, Cin] and f32 or f16 w [Cout, kh, kw, Cin]: ${shapes}`);
  }
  const [batch, height, width, cin] = x.shape;
  const [cout, kh, kw, wcin] = w.shape;
  if (wcin !== cin) throw new AtelierGpuError('usage', `conv2d: input channels differ (${cin} vs ${wcin}): ${shapes}`);
  if (!Number.isInteger(stride) || stride < 1 || !Number.isInteger(padding) || padding < 0) {
    throw new AtelierGpuError('usage', `conv2d: stride must be an integer >= 1 and padding an integer >= 0: ${shapes}`);
  }
  const outH = convOutputSize(height, kh, stride, padding);
  const outW = convOutputSize(width, kw, stride, padding);
  if (outH < 1 || outW < 1) throw new AtelierGpuError('usage', `conv2d: the kernel does not fit the padded input: ${shapes}`);
  const taps = kh * kw * cin;
  const k4 = roundUp4(taps);
  if (w.dtype === 'f16' && k4 !== taps) throw new AtelierGpuError('usage', `conv2d: f16 weights need kh * kw * Cin a multiple of 4: ${shapes}`);
  const { out, params: epilogue } = prepareEpilogue(rec, 'conv2d', [batch, outH, outW, cout], opts);
  if (out.size === 0) return out;

  // The GEMM reads weight rows of a multiple of 4: pad [Cout, taps] with zeros (an RGB stem has 27).
  let weights = w.reshape([cout, taps]);
  if (k4 !== taps) {
    weights = padAxis(rec, weights, 1, 0, k4);
    rec.disposeAfterSubmit(weights);
  }
  const m = batch * outH * outW;
  const ctx = rec.ctx;
  const vec4Input = cin % 4 === 0;
  const kernel = ctx.kernels.get({
    file: 'conv2d',
    entry: 'conv2d',
    includes: ['activation', gemmSharing(ctx), 'gemm'],
    defines: { XT: vec4Input ? 'vec4<f32>' : 'f32', CIN_VEC4: vec4Input, BT: weightType(w) },
  });
  const params = {
    ...epilogue,
    m,
    n: cout,
    k: k4,
    height,
    width,
    cin,
    out_height: outH,
    out_width: outW,
    kernel_h: kh,
    kernel_w: kw,
    stride,
    padding,
    taps_k: taps,
  };
  rec.dispatch(kernel, { x, b: weights, bias: opts.bias ?? x, out }, params, [ceilDiv(cout, GEMM_TILE), ceilDiv(m, GEMM_TILE), 1]);
  return out;
}
