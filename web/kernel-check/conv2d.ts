import { conv2dRef } from '../../src/reference/conv2d.ts';
import { conv2d } from '../../src/runtime/ops/conv2d.ts';
import { opCheck, type CheckFamily, type CheckSetup } from './check.ts';
import { ACTIVATIONS } from './elementwise.ts';

// The Node tests' tolerances (test/kernels/conv2d.test.ts): f32 sums of at most 3 * 3 * 16 products
// of values in [-1, 1], in another order than the float64 reference.
const tolerance = { atol: 2e-5, rtol: 1e-4 };

/**
 * A random NHWC convolution: channel counts that are and are not multiples of 4 (the vec4 and
 * scalar input paths; 3 is an RGB stem), odd spatial sizes, strides and paddings that do not tile
 * the input, kernels up to 3x3.
 */
function problem(setup: CheckSetup) {
  const cin = setup.pick([1, 3, 4, 5, 8, 16]);
  const kh = setup.int(1, 3);
  const kw = setup.pick([kh, setup.int(1, 3)]);
  const padding = setup.int(0, 2);
  // At least the kernel's size once padded, so every output has a window.
  const height = Math.max(1, setup.int(kh - 2 * padding, 12));
  const width = Math.max(1, setup.int(kw - 2 * padding, 12));
  return {
    x: [setup.int(1, 2), height, width, cin],
    w: [setup.int(1, 40), kh, kw, cin],
    stride: setup.int(1, 3),
    padding,
    bias: setup.int(0, 1) === 1,
    activation: setup.pick(ACTIVATIONS),
  };
}

export const conv2dChecks: CheckFamily = (setup) =>
  [problem(setup), problem(setup), problem(setup), problem(setup)].map((p) =>
    opCheck(setup, {
      family: 'conv2d',
      name: `x [${p.x.join(', ')}] * w [${p.w.join(', ')}], stride ${p.stride}, padding ${p.padding}${p.bias ? ' + bias' : ''}, ${p.activation}`,
      inputs: [{ shape: p.x }, { shape: p.w }, ...(p.bias ? [{ shape: [p.w[0]] }] : [])],
      tolerance,
      gpu: (rec, [x, w, bias]) => conv2d(rec, x, w, { stride: p.stride, padding: p.padding, bias, activation: p.activation }),
      reference: ([x, w, bias]) => conv2dRef(x, p.x, w, p.w, { stride: p.stride, padding: p.padding, bias, activation: p.activation }),
    }),
  );
