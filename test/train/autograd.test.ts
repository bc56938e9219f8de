import { describe, expect, it } from 'vitest';
import { randomArray } from '../../src/reference/numeric.ts';
import { Parameter, Tape } from '../../src/train/autograd.ts';
import * as F from '../../src/train/ops.ts';
import { useGpu } from '../helpers/gpu.ts';

describe('autograd tape', () => {
  const gpu = useGpu();

  it('releases intermediate values and gradients during backward, keeping only the root and parameter gradients', async () => {
    const ctx = gpu();
    const w = new Parameter('w', ctx.tensor(randomArray(64, 1), [8, 8]));
    const before = ctx.storagePool.getStats().live;
    const rec = ctx.recorder('step');
    const tape = new Tape(rec);
    let h = tape.param(w);
    for (let i = 0; i < 6; i++) h = F.activation(F.scale(h, 1.1), 'gelu');
    const loss = F.sumAll(h);
    expect(ctx.storagePool.getStats().live - before).toBe(13); // 12 intermediate values + the loss
    tape.backward(loss);
    // left: the loss (retained as the root) and w's gradient
    expect(ctx.storagePool.getStats().live - before).toBe(2);
    tape.dispose();
    rec.submit();
    expect(ctx.storagePool.getStats().live - before).toBe(1);
    w.zeroGrad();
    expect(ctx.storagePool.getStats().live).toBe(before);
    w.value.dispose();
  });

  it('accumulates parameter gradients over several backward passes until zeroGrad (micro-batches)', async () => {
    const ctx = gpu();
    const w = new Parameter('w', ctx.tensor([1, 2, 3], [3]));
    const x = ctx.tensor([0.5, -1, 2], [3]);
    for (let pass = 0; pass < 3; pass++) {
      const rec = ctx.recorder('micro');
      const tape = new Tape(rec);
      tape.backward(F.sumAll(F.mul(tape.param(w), tape.constant(x))));
      tape.dispose();
      rec.submit();
    }
    expect(Array.from(await w.grad!.read())).toEqual([1.5, -3, 6]);
    w.zeroGrad();
    expect(w.grad).toBeNull();
    w.value.dispose();
    x.dispose();
  });

  it('runs only the rules that lead to the root', async () => {
    const ctx = gpu();
    const a = new Parameter('a', ctx.tensor([1, 2], [2]));
    const b = new Parameter('b', ctx.tensor([3, 4], [2]));
    const rec = ctx.recorder('branches');
    const tape = new Tape(rec);
    const va = tape.param(a);
    const metric = tape.retain(F.mul(va, tape.param(b))); // not part of the loss
    const dispatches = rec.dispatchCount;
    tape.backward(F.sumAll(F.scale(va, 2)));
    expect(rec.dispatchCount - dispatches).toBeLessThan(8);
    tape.dispose();
    rec.submit();
    expect(Array.from(await a.grad!.read())).toEqual([2, 2]);
    expect(b.grad).toBeNull();
    expect(metric.value.disposed).toBe(true);
    a.zeroGrad();
    for (const p of [a, b]) p.value.dispose();
  });

  it('keeps retained values readable after backward', async () => {
    const ctx = gpu();
    const w = new Parameter('w', ctx.tensor([1, -2, 3, -4], [2, 2]));
    const rec = ctx.recorder('retain');
    const tape = new Tape(rec);
    const logits = tape.retain(F.reshape(F.activation(tape.param(w), 'relu'), [4]));
    const loss = F.sumAll(logits);
    tape.backward(loss);
    rec.submit();
    expect(Array.from(await logits.value.read())).toEqual([1, 0, 3, 0]);
    expect(Array.from(await loss.value.read())).toEqual([4]);
    tape.dispose();
    w.zeroGrad();
    w.value.dispose();
  });

  it('reports misuse clearly', () => {
    const ctx = gpu();
    const x = ctx.tensor([1, 2], [2]);
    const rec = ctx.recorder('misuse');
    const tape = new Tape(rec);
    const other = new Tape(rec);
    const c = F.scale(tape.constant(x), 2);
    expect(() => tape.backward(c)).toThrow(/does not depend on any parameter/);
    expect(() => F.add(c, other.constant(x))).toThrow(/another tape/);
    const p = new Parameter('p', ctx.tensor([1, 2], [2]));
    const wrongSeed = ctx.zeros([3]);
    expect(() => tape.backward(F.scale(tape.param(p), 1), wrongSeed)).toThrow(/seed \[3\] does not match the root \[2\]/);
    wrongSeed.dispose();
    tape.dispose();
    other.dispose();
    expect(() => tape.constant(x)).toThrow(/disposed/);
    rec.submit();
    x.dispose();
    p.value.dispose();
  });
});
