import { randomArray, rng } from '../../src/reference/numeric.ts';
import { argmaxRef, sampleRef } from '../../src/reference/sampling.ts';
import { argmaxTokens, sampleTokens, type SampleOptions } from '../../src/runtime/ops/sampling.ts';
import type { CheckFamily, CheckSetup, KernelCheck } from './check.ts';

/**
 * Token choice: greedy argmax under a grounding mask (-inf bans a token) and seeded sampling, token
 * for token against the references. Both must agree exactly: argmax ties go to the lowest id on both
 * sides, and a seeded draw differs only when it lands within f32 noise of a boundary between two
 * tokens (about 1e-5 per row; the cases are seeded, so a pass is reproducible).
 */
type Choice = { greedy: true } | ({ greedy: false } & Pick<SampleOptions, 'temperature' | 'topK' | 'topP'>);

const SAMPLING: readonly Choice[] = [
  { greedy: false, temperature: 1 },
  { greedy: false, temperature: 1.7, topK: 5 },
  { greedy: false, temperature: 0.6, topP: 0.9 },
  { greedy: false, temperature: 1, topK: 40, topP: 0.8 },
];

function choiceCheck(setup: CheckSetup, choice: Choice): KernelCheck {
  const rows = setup.int(1, 6);
  const vocab = setup.pick([1, setup.int(2, 300), setup.int(1000, 5000)]);
  // A mask per row, one shared by every row ([1, V]), or none.
  const maskRows = setup.pick([0, 1, rows]);
  const [logitSeed, maskSeed, seed] = [setup.seed(), setup.seed(), setup.seed()];
  const how = choice.greedy ? 'argmax' : `sample T ${choice.temperature}${choice.topK ? `, top-k ${choice.topK}` : ''}${choice.topP ? `, top-p ${choice.topP}` : ''}`;
  return {
    family: 'sampling',
    name: `${how}: ${rows} rows of ${vocab}${maskRows ? `, ${maskRows === 1 ? 'shared' : 'per-row'} mask` : ''}`,
    async run(ctx) {
      const logits = randomArray(rows * vocab, logitSeed, 4);
      const banned = rng(maskSeed);
      const maskData = Float32Array.from({ length: maskRows * vocab }, () => (banned() < 0.3 ? -Infinity : 0));
      const tLogits = ctx.tensor(logits, [rows, vocab], 'f32', 'logits');
      const tMask = maskRows ? ctx.tensor(maskData, [maskRows, vocab], 'f32', 'mask') : undefined;
      const rec = ctx.recorder(`sampling ${how}`);
      let tokens;
      try {
        tokens = choice.greedy ? argmaxTokens(rec, tLogits, { mask: tMask }) : sampleTokens(rec, tLogits, { ...choice, mask: tMask, seed });
      } finally {
        rec.submit();
      }
      const got = await tokens.read();
      for (const t of [tLogits, tMask, tokens]) t?.dispose();
      const mask = maskRows ? { data: maskData, rowStride: maskRows === 1 ? 0 : vocab } : undefined;
      const want = choice.greedy ? Array.from(argmaxRef(logits, vocab, mask)) : sampleRef(logits, vocab, { ...choice, seed, mask }).map((r) => r.token);
      const wrong = want.findIndex((token, r) => got[r] !== token);
      if (wrong !== -1) throw new Error(`row ${wrong}: token ${got[wrong]}, the reference chose ${want[wrong]}`);
      return 0;
    },
  };
}

export const samplingChecks: CheckFamily = (setup) => [choiceCheck(setup, { greedy: true }), choiceCheck(setup, { greedy: true }), ...SAMPLING.map((c) => choiceCheck(setup, c))];
