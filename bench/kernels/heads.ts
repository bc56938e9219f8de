/** The fused classifier: one photo (B = 1) and an evaluation batch (B = 32), ~300 outputs over D = 512. */
import type { BenchCase } from '../harness.ts';
import { classifierHeads, headLayout, type HeadSegment } from '../../src/runtime/ops/heads.ts';
import { classifierHeadsRef } from '../../src/reference/heads.ts';
import { maxRelErr, randomArray } from '../../src/reference/numeric.ts';

const HEADS: HeadSegment[] = [
  { name: 'category', size: 96, kind: 'softmax' },
  { name: 'colour', size: 48, kind: 'softmax' },
  { name: 'pattern', size: 24, kind: 'softmax' },
  { name: 'material', size: 40, kind: 'softmax' },
  { name: 'style', size: 32, kind: 'softmax' },
  { name: 'sleeve', size: 12, kind: 'softmax' },
  { name: 'neckline', size: 20, kind: 'softmax' },
  { name: 'fit', size: 8, kind: 'softmax' },
  { name: 'price', size: 3, kind: 'raw' },
];

function headsCase(batch: number, dim: number): BenchCase {
  const total = HEADS.reduce((n, h) => n + h.size, 0);
  const xData = randomArray(batch * dim, batch, 1);
  const wData = randomArray(total * dim, dim, 3 / Math.sqrt(dim));
  const bData = randomArray(total, 1, 0.5);
  return {
    kernel: 'heads',
    shape: `B${batch} D${dim} C${total} (${HEADS.length} heads)`,
    flops: 2 * batch * total * dim,
    bytes: 4 * (total * dim + batch * dim + 2 * batch * total),
    async setup(ctx) {
      const layout = headLayout(ctx, HEADS);
      const x = ctx.tensor(xData, [batch, dim]);
      const w = ctx.tensor(wData, [total, dim]);
      const bias = ctx.tensor(bData, [total]);
      const out = {
        probs: ctx.empty([batch, total]),
        argmax: ctx.empty([batch, HEADS.length], 'u32'),
        confidence: ctx.empty([batch, HEADS.length]),
      };
      return {
        record(reps) {
          const rec = ctx.recorder('bench-heads');
          for (let i = 0; i < reps; i++) classifierHeads(rec, x, w, bias, layout, out);
          rec.submit();
        },
        async verify() {
          const want = classifierHeadsRef(xData, wData, bData, dim, HEADS);
          return maxRelErr(await out.probs.read(), want.probs, 1e-5, 1e-4) <= 1 && maxRelErr(await out.confidence.read(), want.confidence, 1e-5, 1e-4) <= 1;
        },
        dispose() {
          for (const t of [x, w, bias, layout.segments, out.probs, out.argmax, out.confidence]) t.dispose();
        },
      };
    },
  };
}

export const cases: BenchCase[] = [headsCase(1, 512), headsCase(32, 512)];
