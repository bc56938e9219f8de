import { attentionRef } from '../../src/reference/attention.ts';
import { attention, type AttentionKernel } from '../../src/runtime/ops/attention.ts';
import { opCheck, type CheckFamily, type CheckSetup } from './check.ts';

// The Node tests' tolerances (test/kernels/attention.test.ts): outputs are convex combinations of
// V rows (|v| <= 1) and the online softmax rescales in f32.
const tolerance = { atol: 3e-6, rtol: 1e-4 };
const KERNELS: readonly AttentionKernel[] = ['flash', 'decode'];

/** A random attention problem: a KV cache partly filled, queries causal (at some past offset) or not. */
function problem(setup: CheckSetup) {
  const batch = setup.int(1, 2);
  const heads = setup.int(1, 4);
  const headDim = 4 * setup.int(1, 8);
  const tq = setup.pick([1, setup.int(2, 20)]);
  const capacity = setup.int(tq, 40);
  const causal = setup.int(0, 1) === 1;
  const tk = setup.int(causal ? tq : 1, capacity);
  // Usually the queries are the last tk positions (prefill, decode); sometimes earlier ones.
  const past = causal ? setup.pick([tk - tq, setup.int(0, tk - tq)]) : 0;
  return { batch, heads, headDim, tq, capacity, tk, causal, past, scale: 1 / Math.sqrt(headDim) };
}

export const attentionChecks: CheckFamily = (setup) =>
  [problem(setup), problem(setup), problem(setup)].flatMap((p) => {
    const dim = p.heads * p.headDim;
    const what = `${p.causal ? `causal (past ${p.past})` : 'full'}, q [${p.batch}, ${p.tq}, ${dim}], ${p.tk} of ${p.capacity} keys, ${p.heads} head${p.heads > 1 ? 's' : ''}`;
    return KERNELS.map((kernel) =>
      opCheck(setup, {
        family: 'attention',
        name: `${kernel}: ${what}`,
        inputs: [{ shape: [p.batch, p.tq, dim], scale: 1.5 }, { shape: [p.batch, p.capacity, dim], scale: 1.5 }, { shape: [p.batch, p.capacity, dim] }],
        tolerance,
        gpu: (rec, [q, k, v]) => attention(rec, q, k, v, { heads: p.heads, causal: p.causal, past: p.past, kvLength: p.tk, kernel }),
        reference: ([q, k, v]) => ({ data: attentionRef(q, k, v, p), shape: [p.batch, p.tq, dim] }),
      }),
    );
  });
