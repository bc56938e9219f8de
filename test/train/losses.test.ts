import { describe, expect, it } from 'vitest';
import { crossEntropyRef, pinballRef, regressionRef } from '../../src/reference/loss.ts';
import { maxRelErr, randomArray } from '../../src/reference/numeric.ts';
import type { Recorder } from '../../src/runtime/recorder.ts';
import { crossEntropy, disposeLossState, pinball, regression, type LossState } from '../../src/train/losses.ts';
import { useGpu } from '../helpers/gpu.ts';

// The loss values (the gradients are checked in rules.test.ts): f32 logsumexp and sums of ~100 rows.
const ATOL = 1e-6;
const RTOL = 1e-5;

describe('loss kernels as plain (validation) losses', () => {
  const gpu = useGpu();

  async function value(run: (rec: Recorder) => LossState): Promise<number> {
    const ctx = gpu();
    const before = ctx.storagePool.getStats().live;
    const rec = ctx.recorder('loss');
    const state = run(rec);
    rec.submit();
    const v = (await state.loss.read())[0];
    state.loss.dispose();
    disposeLossState(state);
    expect(ctx.storagePool.getStats().live).toBe(before);
    return v;
  }

  it('cross-entropy over 100 rows with missing labels, class weights and a mask', async () => {
    const ctx = gpu();
    const [rows, classes] = [100, 13];
    const logits = randomArray(rows * classes, 1, 4);
    const labels = Int32Array.from({ length: rows }, (_, r) => (r % 9 === 0 ? -1 : (r * 7) % classes));
    const classWeight = Float32Array.from({ length: classes }, (_, c) => 0.5 + c / classes);
    const mask = Float32Array.from({ length: rows }, (_, r) => (r % 5 === 0 ? 0 : 1));
    const t = [ctx.tensor(logits, [rows, classes]), ctx.tensor(labels, [rows], 'i32'), ctx.tensor(classWeight, [classes]), ctx.tensor(mask, [rows])];
    const got = await value((rec) => crossEntropy(rec, t[0], t[1], { classWeight: t[2], mask: t[3] }));
    expect(maxRelErr([got], [crossEntropyRef(logits, labels, classes, { rows, ld: classes }, { classWeight, mask })], ATOL, RTOL)).toBeLessThanOrEqual(1);
    for (const x of t) x.dispose();
  });

  it('a label past the classes makes the loss +Inf (so the non-finite check names it)', async () => {
    const ctx = gpu();
    const t = [ctx.tensor(randomArray(6, 2), [2, 3]), ctx.tensor(new Int32Array([1, 3]), [2], 'i32')];
    expect(await value((rec) => crossEntropy(rec, t[0], t[1]))).toBe(Infinity);
    for (const x of t) x.dispose();
  });

  it('Huber and pinball losses over 300 rows with masked (NaN) targets', async () => {
    const ctx = gpu();
    const rows = 300;
    const pred = randomArray(rows * 3, 3, 3);
    const target = randomArray(rows, 4, 3);
    const mask = Float32Array.from({ length: rows }, (_, r) => (r % 7 === 0 ? 0 : 1));
    const targetT = ctx.tensor(target.map((v, r) => (mask[r] ? v : NaN)), [rows]);
    const t = [ctx.tensor(pred, [rows, 3]), targetT, ctx.tensor(mask, [rows]), ctx.tensor([0.1, 0.9], [2])];
    const huber = await value((rec) => regression(rec, t[0], t[1], { huberDelta: 0.7, mask: t[2] }));
    expect(maxRelErr([huber], [regressionRef(pred, target, { rows, ld: 3 }, 0.7, mask)], ATOL, RTOL)).toBeLessThanOrEqual(1);
    const quantiles = await value((rec) => pinball(rec, t[0], t[1], t[3], { mask: t[2], col0: 1 }));
    expect(maxRelErr([quantiles], [pinballRef(pred, target, [0.1, 0.9], { rows, ld: 3, col0: 1 }, mask)], ATOL, RTOL)).toBeLessThanOrEqual(1);
    for (const x of t) x.dispose();
  });

  it('rejects mismatched labels, masks and windows', () => {
    const ctx = gpu();
    const logits = ctx.zeros([4, 5]);
    const labels = ctx.zeros([3], 'i32');
    const target = ctx.zeros([4]);
    const rec = ctx.recorder('bad');
    expect(() => crossEntropy(rec, logits, labels)).toThrow(/labels must be i32 with 4 elements/);
    expect(() => regression(rec, logits, target, { col0: 5 })).toThrow(/columns \[5, 6\) are outside predictions \[4, 5\]/);
    rec.submit();
    for (const x of [logits, labels, target]) x.dispose();
  });
});
