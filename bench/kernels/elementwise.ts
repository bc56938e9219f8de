/** Activations and broadcast adds at model-sized shapes, against tfjs's own kernels. */
import type { BenchCase } from '../harness.ts';
import { activation, binary, type Activation } from '../../src/runtime/ops/elementwise.ts';
import { activationRef, binaryRef } from '../../src/reference/elementwise.ts';
import { maxRelErr, randomArray } from '../../src/reference/numeric.ts';
import { settleTfjs } from '../tfjs-peer.ts';
import { singleInputCase, within } from '../single-input.ts';

type Tf = typeof import('@tensorflow/tfjs-core');

function activationCase(act: Activation, rows: number, n: number, peer: (tf: Tf, x: import('@tensorflow/tfjs-core').Tensor) => import('@tensorflow/tfjs-core').Tensor): BenchCase {
  const data = randomArray(rows * n, rows * 7 + n, 4);
  return singleInputCase({
    kernel: act,
    shape: `${rows}x${n}`,
    bytes: 2 * 4 * rows * n,
    data,
    inShape: [rows, n],
    outShape: [rows, n],
    run: (rec, x, y) => activation(rec, x, act, y),
    check: within(activationRef(data, act), 1e-6, 1e-5),
    tfjsOp: peer,
  });
}

/** x [rows, n] + bias [n]: the broadcast add after every linear layer without a fused epilogue. */
function addCase(rows: number, n: number): BenchCase {
  const a = randomArray(rows * n, rows + 3 * n, 2);
  const b = randomArray(n, n, 2);
  return {
    kernel: 'add(broadcast)',
    shape: `${rows}x${n}+${n}`,
    bytes: 4 * (2 * rows * n + n),
    async setup(ctx) {
      const ta = ctx.tensor(a, [rows, n]);
      const tb = ctx.tensor(b, [n]);
      const y = ctx.empty([rows, n]);
      return {
        record(reps) {
          const rec = ctx.recorder('bench-add');
          for (let i = 0; i < reps; i++) binary(rec, 'add', ta, tb, 'none', y);
          rec.submit();
        },
        async verify() {
          return maxRelErr(await y.read(), binaryRef('add', a, [rows, n], b, [n]).data, 1e-6, 1e-6) <= 1;
        },
        dispose() {
          for (const t of [ta, tb, y]) t.dispose();
        },
      };
    },
    async tfjs(tf) {
      const ta = tf.tensor2d(a, [rows, n]);
      const tb = tf.tensor1d(b);
      return {
        async run() {
          const y = tf.add(ta, tb);
          await settleTfjs(tf, y);
          y.dispose();
        },
        dispose: () => {
          ta.dispose();
          tb.dispose();
        },
      };
    },
  };
}

// tfjs has no tanh-GELU op: a tfjs user composes it from the formula, which is what we time.
const geluTf = (tf: Tf, x: import('@tensorflow/tfjs-core').Tensor) =>
  tf.tidy(() => tf.mul(tf.mul(x, 0.5), tf.add(1, tf.tanh(tf.mul(0.7978845608028654, tf.add(x, tf.mul(0.044715, tf.pow(x, 3))))))));

export const cases: BenchCase[] = [
  activationCase('gelu', 96 * 16, 512, geluTf),
  activationCase('relu', 96 * 16, 512, (tf, x) => tf.relu(x)),
  activationCase('silu', 96 * 16, 512, (tf, x) => tf.mul(x, tf.sigmoid(x))),
  addCase(96 * 16, 128),
  addCase(1024, 1024),
];
