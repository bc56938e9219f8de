import { activationRef, binaryRef } from '../../src/reference/elementwise.ts';
import { activation, binary, type Activation, type BinaryOp } from '../../src/runtime/ops/elementwise.ts';
import { opCheck, type CheckFamily, type CheckSetup } from './check.ts';

// The Node tests' tolerances (test/kernels/elementwise.test.ts): f32 math, exp-based activations
// lose a few ulps.
const tolerance = { atol: 1e-6, rtol: 1e-5 };
export const ACTIVATIONS: readonly Activation[] = ['none', 'relu', 'gelu', 'silu'];
const BINARY_OPS: readonly BinaryOp[] = ['add', 'mul', 'sub'];

/** Two shapes of rank 1..4 that broadcast: b is a suffix of a's rank with some dims set to 1, or the other way round. */
function broadcastPair(setup: CheckSetup): [number[], number[]] {
  const full = Array.from({ length: setup.int(1, 4) }, () => setup.int(1, 9));
  const suffix = full.slice(full.length - setup.int(1, full.length)).map((d) => (setup.int(0, 2) === 0 ? 1 : d));
  return setup.int(0, 1) === 0 ? [full, suffix] : [suffix, full];
}

export const elementwiseChecks: CheckFamily = (setup) => [
  // One element, a size inside one workgroup, a size that leaves the last workgroup partly empty.
  ...ACTIVATIONS.flatMap((act) =>
    [1, setup.int(2, 255), setup.int(257, 5000)].map((n) =>
      opCheck(setup, {
        family: 'elementwise',
        name: `${act} [${n}]`,
        inputs: [{ shape: [n], scale: 8 }],
        tolerance,
        gpu: (rec, [x]) => activation(rec, x, act),
        reference: ([x]) => activationRef(x, act),
      }),
    ),
  ),
  ...BINARY_OPS.flatMap((op) =>
    [0, 1].map(() => {
      const [as, bs] = broadcastPair(setup);
      const act = setup.pick(ACTIVATIONS);
      return opCheck(setup, {
        family: 'elementwise',
        name: `${op}+${act} [${as.join(', ')}] with [${bs.join(', ')}]`,
        inputs: [{ shape: as }, { shape: bs }],
        tolerance,
        gpu: (rec, [a, b]) => binary(rec, op, a, b, act),
        reference: ([a, b]) => binaryRef(op, a, as, b, bs, act),
      });
    }),
  ),
];
