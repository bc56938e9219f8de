import { describe, expect, it } from 'vitest';
import { argmaxTokens, bannedTokenMask, sampleTokens, type SampleOptions } from '../../src/runtime/ops/sampling.ts';
import { argmaxRef, sampleRef, type SampleRefRow } from '../../src/reference/sampling.ts';
import { randomArray, rng, useGpu } from '../helpers/gpu.ts';

/**
 * The GPU computes weights and running sums in f32, the reference in float64, so a draw that lands
 * within f32 noise of a boundary between two tokens (or a top-p cut within noise of p) may come out
 * either way; any other difference is a failure.
 */
function agrees(got: number, want: SampleRefRow): boolean {
  if (got === want.token) return true;
  const noise = 1e-5 * want.total;
  if (Math.abs(want.topPSlack) < 1e-5) return true;
  if (!want.kept[got]) return false;
  let before = 0;
  for (let j = 0; j < got; j++) before += want.weight[j];
  return Math.abs(before - want.target) < noise || Math.abs(before + want.weight[got] - want.target) < noise;
}

/**
 * Row shapes of the draw-for-draw checks, and their timeout. Without subgroups, the first of them
 * on a cold Mesa shader cache took 120 s beside a training run (MESA_SHADER_CACHE_DIR set to an
 * empty folder: lavapipe compiling the shared-memory variant of the sampling kernel), 2.3 s with
 * subgroups; a warm cache makes it milliseconds. So that variant is checked at rows that all need
 * the vec4 lanes (one specialisation to compile; the scalar-lane path is covered with subgroups),
 * under a timeout that leaves room for that one compile on a busy machine.
 */
const DRAWS = {
  subgroups: { shapes: [[6, 7], [5, 1000], [2, 4099]], timeout: 120_000 },
  shared: { shapes: [[6, 8], [5, 1000], [2, 4100]], timeout: 400_000 },
};

describe.each([
  ['subgroups where available', {}, DRAWS.subgroups],
  ['without subgroups', { disable: { subgroups: true } }, DRAWS.shared],
])('token choice (%s)', (_name, options, draws) => {
  const gpu = useGpu(options);

  it.each([[1, 1], [3, 5], [4, 64], [2, 1001], [1, 8192]])('argmax of %i rows of %i logits, with ties and masks', async (rows, vocab) => {
    const ctx = gpu();
    const r = rng(rows * vocab);
    // small integers: plenty of ties, which must go to the lowest index
    const data = Float32Array.from({ length: rows * vocab }, () => Math.floor(r() * 6));
    const maskData = Float32Array.from({ length: rows * vocab }, () => (r() < 0.3 ? -Infinity : 0));
    const logits = ctx.tensor(data, [rows, vocab]);
    const mask = ctx.tensor(maskData, [rows, vocab]);
    const rec = ctx.recorder('argmax');
    const plain = argmaxTokens(rec, logits);
    const masked = argmaxTokens(rec, logits, { mask });
    rec.submit();
    expect(plain.shape).toEqual([rows]);
    expect(Array.from(await plain.read())).toEqual(Array.from(argmaxRef(data, vocab)));
    expect(Array.from(await masked.read())).toEqual(Array.from(argmaxRef(data, vocab, { data: maskData, rowStride: vocab })));
    for (const t of [logits, mask, plain, masked]) t.dispose();
  });

  it('never picks a banned id, and gives 0 for a row with every token banned', async () => {
    const ctx = gpu();
    const vocab = 50;
    const data = randomArray(3 * vocab, 4, 3);
    data[7] = 100; // the row-0 favourite, banned below
    const logits = ctx.tensor(data, [3, vocab]);
    const banned = bannedTokenMask(ctx, vocab, [7, 8, 9]);
    const everything = bannedTokenMask(ctx, vocab, Array.from({ length: vocab }, (_, i) => i));
    const rec = ctx.recorder('banned');
    const greedy = argmaxTokens(rec, logits, { mask: banned });
    const sampled = sampleTokens(rec, logits, { mask: banned, temperature: 5, seed: 11 });
    const none = sampleTokens(rec, logits, { mask: everything, temperature: 1, seed: 1 });
    rec.submit();
    const maskRef = { data: new Float32Array(vocab).map((_, j) => (j >= 7 && j <= 9 ? -Infinity : 0)), rowStride: 0 };
    expect(Array.from(await greedy.read())).toEqual(Array.from(argmaxRef(data, vocab, maskRef)));
    for (const t of await sampled.read()) expect([7, 8, 9]).not.toContain(t);
    expect(Array.from(await none.read())).toEqual([0, 0, 0]);
    for (const t of [logits, banned, everything, greedy, sampled, none]) t.dispose();
  });

  const configs: [string, Pick<SampleOptions, 'temperature' | 'topK' | 'topP'>][] = [
    ['plain, temperature 1', { temperature: 1 }],
    ['hot, top-k 5', { temperature: 1.7, topK: 5 }],
    ['top-k 1 is greedy', { temperature: 1, topK: 1 }],
    ['cool, top-p 0.9', { temperature: 0.6, topP: 0.9 }],
    ['top-k 40 then top-p 0.8', { temperature: 1, topK: 40, topP: 0.8 }],
    ['top-k past the vocabulary', { temperature: 1, topK: 10_000 }],
  ];
  it.each(configs)('sampling %s matches the reference draw for draw', async (_label, config) => {
    const ctx = gpu();
    for (const [rows, vocab] of draws.shapes) {
      const data = randomArray(rows * vocab, vocab + rows, 4);
      const logits = ctx.tensor(data, [rows, vocab]);
      for (const seed of [1, 2, 3, 0xdeadbeef]) {
        const rec = ctx.recorder('sample');
        const tokens = sampleTokens(rec, logits, { ...config, seed });
        rec.submit();
        const got = await tokens.read();
        const want = sampleRef(data, vocab, { ...config, seed });
        for (let r = 0; r < rows; r++) {
          expect(agrees(got[r], want[r]), `rows ${rows} vocab ${vocab} seed ${seed} row ${r}: got ${got[r]}, want ${want[r].token}`).toBe(true);
        }
        tokens.dispose();
      }
      logits.dispose();
    }
  }, draws.timeout);

  it('draws tokens in proportion to their top-k probabilities', async () => {
    const ctx = gpu();
    const vocab = 300;
    const rows = 3000; // the same logits in every row: each row draws its own hash(seed, row)
    const row = randomArray(vocab, 77, 1);
    [row[10], row[200], row[299], row[0]] = [3, 2.5, 2, 1.9];
    const data = new Float32Array(rows * vocab);
    for (let r = 0; r < rows; r++) data.set(row, r * vocab);
    const logits = ctx.tensor(data, [rows, vocab]);
    const rec = ctx.recorder('sample-many');
    const tokens = sampleTokens(rec, logits, { temperature: 1, topK: 3, seed: 5 });
    rec.submit();
    const counts = new Map<number, number>();
    for (const t of await tokens.read()) counts.set(t, (counts.get(t) ?? 0) + 1);
    expect([...counts.keys()].sort((a, b) => a - b)).toEqual([10, 200, 299]);
    const z = Math.exp(3) + Math.exp(2.5) + Math.exp(2);
    for (const [t, logit] of [[10, 3], [200, 2.5], [299, 2]]) {
      const p = Math.exp(logit) / z;
      const sigma = Math.sqrt(rows * p * (1 - p));
      expect(Math.abs(counts.get(t)! - rows * p), `token ${t}`).toBeLessThan(4 * sigma);
    }
    logits.dispose();
    tokens.dispose();
  });

  it('is deterministic for a seed and explains bad options', async () => {
    const ctx = gpu();
    const logits = ctx.tensor(randomArray(4 * 500, 8, 2), [4, 500]);
    const rec = ctx.recorder('sample-twice');
    const a = sampleTokens(rec, logits, { temperature: 1, topP: 0.95, seed: 42 });
    const b = sampleTokens(rec, logits, { temperature: 1, topP: 0.95, seed: 42 });
    expect(() => sampleTokens(rec, logits, { temperature: 1, topP: 0, seed: 1 })).toThrow(/topP 0 must be in \(0, 1\]/);
    expect(() => sampleTokens(rec, logits, { temperature: -1, seed: 1 })).toThrow(/temperature -1/);
    const small = ctx.zeros([1, 7]);
    expect(() => argmaxTokens(rec, logits, { mask: small })).toThrow(/mask must be f32 \[1, 500\] or of the logits' shape \(logits \[4, 500\], mask \[1, 7\]\)/);
    rec.submit();
    expect(Array.from(await a.read())).toEqual(Array.from(await b.read()));
    for (const t of [logits, a, b, small]) t.dispose();
  });
});
