/** Row softmax at model-sized shapes (vocabulary logits, attention-sized rows), against tf.softmax. */
import type { BenchCase } from '../harness.ts';
import { softmax } from '../../src/runtime/ops/softmax.ts';
import { softmaxRef } from '../../src/reference/softmax.ts';
import { maxRelErr, randomArray } from '../../src/reference/numeric.ts';
import { settleTfjs } from '../tfjs-peer.ts';

function softmaxCase(rows: number, n: number): BenchCase {
  const data = randomArray(rows * n, rows + n, 8);
  return {
    kernel: 'softmax',
    shape: `${rows}x${n}`,
    bytes: 2 * 4 * rows * n, // one read and one write of the matrix
    async setup(ctx) {
      const x = ctx.tensor(data, [rows, n]);
      const y = ctx.empty([rows, n]);
      return {
        record(reps) {
          const rec = ctx.recorder('bench-softmax');
          for (let i = 0; i < reps; i++) softmax(rec, x, y);
          rec.submit();
        },
        async verify() {
          return maxRelErr(await y.read(), softmaxRef(data, n), 1e-7, 2e-5) <= 1;
        },
        dispose() {
          x.dispose();
          y.dispose();
        },
      };
    },
    async tfjs(tf) {
      const x = tf.tensor2d(data, [rows, n]);
      return {
        async run() {
          const y = tf.softmax(x);
          await settleTfjs(tf, y);
          y.dispose();
        },
        dispose: () => x.dispose(),
      };
    },
  };
}

export const cases: BenchCase[] = [softmaxCase(512, 1000), softmaxCase(8, 8192), softmaxCase(2048, 128)];
