/** Typed wrapper for kernels/conv2d_backward.wgsl (NHWC activations, weights [Cout, kh, kw, Cin]). */
import { AtelierGpuError } from '../../runtime/errors.ts';
import { convOutputSize } from '../../runtime/ops/conv2d.ts';
import { grid1d } from '../../runtime/ops/grid.ts';
import { laneVector } from '../../runtime/ops/rows.ts';
import type { Recorder } from '../../runtime/recorder.ts';
import type { Tensor } from '../../runtime/tensor.ts';
import { reduceToShape } from './elementwise.ts';

const THREADS = 256;

export interface Conv2dGeometry {
  stride: number;
  padding: number;
}

export interface Conv2dGrads {
  dx: Tensor | null;
  dw: Tensor | null;
  dbias: Tensor | null;
}

/**
 * Gradients of y = conv2d(x, w) + bias from dy, the gradient of the pre-activation output.
 * `needs` selects which of (x, w, bias) to compute.
 */
export function conv2dBackward(rec: Recorder, dy: Tensor, x: Tensor, w: Tensor, g: Conv2dGeometry, needs: readonly [boolean, boolean, boolean]): Conv2dGrads {
  const [batch, height, width, cin] = x.shape;
  const [cout, kh, kw] = w.shape;
  const [, outHeight, outWidth] = dy.shape;
  const expected = [batch, convOutputSize(height, kh, g.stride, g.padding), convOutputSize(width, kw, g.stride, g.padding), cout];
  if (x.shape.length !== 4 || w.shape.length !== 4 || w.shape[3] !== cin || dy.shape.join() !== expected.join()) {
    throw new AtelierGpuError('usage', `conv2d backward: x [${x.shape.join(', ')}], w [${w.shape.join(', ')}] and dy [${dy.shape.join(', ')}] do not fit stride ${g.stride}, padding ${g.padding} (NHWC, w [Cout, kh, kw, Cin])`);
  }
  const ctx = rec.ctx;
  const lanes = laneVector(cin);
  const base = { batch, height, width, cin: cin / lanes.width, out_height: outHeight, out_width: outWidth, cout, kernel_h: kh, kernel_w: kw, stride: g.stride, padding: g.padding };
  const run = (entry: 'dinput' | 'dweight', shape: readonly number[], bindings: Record<string, Tensor>): Tensor => {
    const out = ctx.empty(shape, 'f32', `dconv.${entry}`);
    const k = ctx.kernels.get({ file: 'conv2d_backward', entry, includes: ['lane_vector'], defines: { WG: THREADS, ...lanes.defines } });
    const chunks = out.size / lanes.width;
    const grid = grid1d(chunks, THREADS);
    rec.dispatch(k, { ...bindings, [entry === 'dinput' ? 'dx' : 'dw']: out }, { ...base, n: chunks, row_pitch: grid.rowPitch }, grid.workgroups);
    return out;
  };
  return {
    dx: needs[0] ? run('dinput', x.shape, { w, dy }) : null,
    dw: needs[1] ? run('dweight', w.shape, { x, dy }) : null,
    dbias: needs[2] ? reduceToShape(rec, dy.reshape([dy.size / cout, cout]), [cout]) : null,
  };
}
