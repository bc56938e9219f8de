/** Embedding gather, row sums and the whole-tensor sum, against tf.gather and tf.sum. */
import type { BenchCase } from '../harness.ts';
import { embedding } from '../../src/runtime/ops/embedding.ts';
import { reduceAll, reduceLastDim } from '../../src/runtime/ops/reduce.ts';
import { embeddingRef } from '../../src/reference/embedding.ts';
import { reduceAllRef, reduceLastDimRef } from '../../src/reference/reduce.ts';
import { maxRelErr, randomArray } from '../../src/reference/numeric.ts';
import { settleTfjs } from '../tfjs-peer.ts';
import { singleInputCase, within } from '../single-input.ts';

function embeddingCase(vocab: number, dim: number, tokens: number): BenchCase {
  const table = randomArray(vocab * dim, vocab + dim, 1);
  const ids = Uint32Array.from({ length: tokens }, (_, i) => (i * 7919) % vocab);
  return {
    kernel: 'embedding',
    shape: `${tokens}of${vocab}x${dim}`,
    bytes: 4 * (2 * tokens * dim + tokens),
    async setup(ctx) {
      const t = ctx.tensor(table, [vocab, dim]);
      const i = ctx.tensor(ids, [1, tokens], 'u32');
      const y = ctx.empty([1, tokens, dim]);
      return {
        record(reps) {
          const rec = ctx.recorder('bench-embedding');
          for (let r = 0; r < reps; r++) embedding(rec, t, i, { out: y });
          rec.submit();
        },
        async verify() {
          return maxRelErr(await y.read(), embeddingRef(table, dim, ids, tokens), 1e-7, 1e-7) <= 1;
        },
        dispose() {
          for (const x of [t, i, y]) x.dispose();
        },
      };
    },
    async tfjs(tf) {
      const t = tf.tensor2d(table, [vocab, dim]);
      const i = tf.tensor1d(Int32Array.from(ids), 'int32');
      return {
        async run() {
          const y = tf.gather(t, i);
          await settleTfjs(tf, y);
          y.dispose();
        },
        dispose: () => {
          t.dispose();
          i.dispose();
        },
      };
    },
  };
}

function sumCase(rows: number, n: number, all: boolean): BenchCase {
  const data = randomArray(rows * n, rows + n + (all ? 1 : 0), 1);
  return singleInputCase({
    kernel: all ? 'sum(all)' : 'sum(last dim)',
    shape: `${rows}x${n}`,
    bytes: 4 * rows * n,
    data,
    inShape: [rows, n],
    outShape: all ? [1] : [rows],
    run: (rec, x, y) => (all ? reduceAll(rec, x, 'sum', y) : reduceLastDim(rec, x, 'sum', y)),
    check: all ? (got) => Math.abs(got[0] - reduceAllRef(data, 'sum')) <= 1e-3 * Math.sqrt(rows * n) : within(reduceLastDimRef(data, n, 'sum'), 1e-4, 1e-5),
    tfjsOp: (tf, x) => (all ? tf.sum(x) : tf.sum(x, 1)),
  });
}

export const cases: BenchCase[] = [embeddingCase(4096, 128, 16 * 96), embeddingCase(4096, 128, 8), sumCase(1024, 1024, false), sumCase(1024, 1024, true), sumCase(16, 4096, false)];
