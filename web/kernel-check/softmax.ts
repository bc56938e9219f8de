import { softmaxRef } from '../../src/reference/softmax.ts';
import { softmax } from '../../src/runtime/ops/softmax.ts';
import { opCheck, type CheckFamily } from './check.ts';
import { rowShapes } from './shapes.ts';

// The Node tests' tolerances (test/kernels/softmax.test.ts): exp loses a few ulps and the row sum
// accumulates in f32.
const tolerance = { atol: 1e-7, rtol: 2e-5 };

export const softmaxChecks: CheckFamily = (setup) =>
  rowShapes(setup).map((shape) =>
    opCheck(setup, {
      family: 'softmax',
      name: `softmax [${shape.join(', ')}]`,
      inputs: [{ shape, scale: 40 }],
      tolerance,
      gpu: (rec, [x]) => softmax(rec, x),
      reference: ([x]) => ({ data: softmaxRef(x, shape[shape.length - 1]), shape }),
    }),
  );
