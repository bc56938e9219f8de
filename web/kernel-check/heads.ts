import { classifierHeadsRef } from '../../src/reference/heads.ts';
import { classifierHeads, headLayout, type HeadSegment } from '../../src/runtime/ops/heads.ts';
import { EXACT, opCheck, type CheckFamily, type CheckSetup } from './check.ts';

// The Node tests' tolerances (test/kernels/heads.test.ts): logits are dot products over D in f32;
// probabilities inherit that error through exp. The argmax must match exactly: with weights of scale
// 4/sqrt(D) two classes within f32 noise of each other are unlikely, and the cases are seeded.
const tolerance = { atol: 1e-5, rtol: 1e-4 };

/** A catalog-like layout: several softmax heads (one of a single class) and a raw price head. */
function heads(setup: CheckSetup): HeadSegment[] {
  const softmax = Array.from({ length: setup.int(1, 5) }, (_, i) => ({ name: `attribute ${i}`, size: setup.pick([1, setup.int(2, 40)]), kind: 'softmax' as const }));
  return [...softmax, { name: 'price', size: 3, kind: 'raw' }];
}

export const headsChecks: CheckFamily = (setup) =>
  [
    [1, setup.pick([1, setup.int(2, 130)])],
    [setup.int(2, 6), setup.int(2, 130)],
  ].map(([batch, dim]) => {
    const layout = heads(setup);
    const total = layout.reduce((s, h) => s + h.size, 0);
    return opCheck(setup, {
      family: 'heads',
      name: `batch ${batch}, D ${dim}, heads ${layout.map((h) => h.size).join('+')}`,
      inputs: [{ shape: [batch, dim] }, { shape: [total, dim], scale: 4 / Math.sqrt(dim) }, { shape: [total], scale: 0.5 }],
      tolerance: [tolerance, tolerance, EXACT],
      gpu: (rec, [x, w, bias]) => {
        const placed = headLayout(rec.ctx, layout);
        rec.disposeAfterSubmit(placed.segments);
        const r = classifierHeads(rec, x, w, bias, placed);
        return [r.probs, r.confidence, r.argmax];
      },
      reference: ([x, w, bias]) => {
        const r = classifierHeadsRef(x, w, bias, dim, layout);
        return [r.probs, r.confidence, r.argmax];
      },
    });
  });
