import { reduceAllRef, reduceLastDimRef } from '../../src/reference/reduce.ts';
import { reduceAll, reduceLastDim, type Reduction } from '../../src/runtime/ops/reduce.ts';
import { opCheck, type CheckFamily, type Tolerance } from './check.ts';
import { rowShapes } from './shapes.ts';

const OPS: readonly Reduction[] = ['sum', 'mean', 'sumsq'];

/**
 * As in test/kernels/reduce.test.ts, the rounding error of an f32 sum is bounded relative to the sum
 * of |terms|; here that mass is bounded from the inputs' range (count * scale, or count * scale²
 * for sumsq) instead of measured.
 */
function tolerance(op: Reduction, count: number, scale: number): Tolerance {
  const mass = op === 'sumsq' ? count * scale * scale : op === 'mean' ? scale : count * scale;
  return { atol: mass * 1e-6 + 1e-7, rtol: 0 };
}

export const reduceChecks: CheckFamily = (setup) => [
  ...rowShapes(setup).map((shape) => {
    const op = setup.pick(OPS);
    const n = shape[shape.length - 1];
    return opCheck(setup, {
      family: 'reduce',
      name: `${op} over the last dim of [${shape.join(', ')}]`,
      inputs: [{ shape, scale: 2 }],
      tolerance: tolerance(op, n, 2),
      gpu: (rec, [x]) => reduceLastDim(rec, x, op),
      reference: ([x]) => ({ data: reduceLastDimRef(x, n, op), shape: shape.slice(0, -1) }),
    });
  }),
  // One dispatch up to 4096 elements, two stages (partial sums, then their sum) above.
  ...[setup.int(1, 4096), setup.int(4097, 40_000)].map((size) => {
    const op = setup.pick(OPS);
    return opCheck(setup, {
      family: 'reduce',
      name: `${op} of all [${size}]`,
      inputs: [{ shape: [size], scale: 2 }],
      tolerance: tolerance(op, size, 2),
      gpu: (rec, [x]) => reduceAll(rec, x, op),
      reference: ([x]) => ({ data: [reduceAllRef(x, op)], shape: [] }),
    });
  }),
];
