import { AtelierGpuError } from '../errors.ts';
import type { GpuContext } from '../gpu.ts';
import type { Recorder } from '../recorder.ts';
import type { Tensor } from '../tensor.ts';
import { laneVector, rowGrid, rowReduction } from './rows.ts';

export interface TokenChoiceOptions {
  /** Additive logit mask, [rows, V] or [1, V] for every row: -inf bans a token (grounded decoding). */
  mask?: Tensor;
  out?: Tensor;
}

export interface SampleOptions extends TokenChoiceOptions {
  /** > 0; 0 means greedy (argmax). */
  temperature: number;
  /** Keep the k most probable tokens (ties at the k-th kept too); 0 or undefined: off. */
  topK?: number;
  /** Keep the smallest set of most probable tokens with probability >= p; 1 or undefined: off. */
  topP?: number;
  /** u32; the same seed and logits give the same tokens (each row draws hash(seed, row)). */
  seed: number;
}

/** A [1, vocab] mask with -inf at the banned ids, for TokenChoiceOptions.mask (build once, reuse). */
export function bannedTokenMask(ctx: GpuContext, vocab: number, banned: Iterable<number>): Tensor {
  const data = new Float32Array(vocab);
  for (const id of banned) {
    if (!Number.isInteger(id) || id < 0 || id >= vocab) throw new AtelierGpuError('usage', `bannedTokenMask: token id ${id} is outside the vocabulary of ${vocab} tokens`);
    data[id] = -Infinity;
  }
  return ctx.tensor(data, [1, vocab], 'f32', 'banned-tokens');
}

/** Most probable token per row of logits [..., V] (+ mask); u32 [...]. Ties go to the lowest id. */
export function argmaxTokens(rec: Recorder, logits: Tensor, options: TokenChoiceOptions = {}): Tensor {
  return chooseTokens(rec, 'argmax', logits, options, { inv_temp: 1, top_k: 0, top_p: 1, seed: 0 });
}

/** Sample one token per row of logits [..., V] with temperature, top-k and top-p; u32 [...]. */
export function sampleTokens(rec: Recorder, logits: Tensor, options: SampleOptions): Tensor {
  const { temperature, topK = 0, topP = 1, seed } = options;
  const fail = (why: string) => new AtelierGpuError('usage', `sampleTokens: ${why}`);
  if (!(temperature >= 0) || !Number.isFinite(temperature)) throw fail(`temperature ${temperature} must be a finite number >= 0`);
  if (!Number.isInteger(topK) || topK < 0) throw fail(`topK ${topK} must be an integer >= 0`);
  if (!(topP > 0 && topP <= 1)) throw fail(`topP ${topP} must be in (0, 1]`);
  if (!Number.isInteger(seed) || seed < 0 || seed > 0xffffffff) throw fail(`seed ${seed} must be a u32`);
  if (temperature === 0) return argmaxTokens(rec, logits, options);
  return chooseTokens(rec, 'sample', logits, options, { inv_temp: 1 / temperature, top_k: topK, top_p: topP, seed });
}

function chooseTokens(rec: Recorder, entry: 'argmax' | 'sample', logits: Tensor, options: TokenChoiceOptions, params: Record<string, number>): Tensor {
  const { mask } = options;
  const shapes = `logits [${logits.shape.join(', ')}]${mask ? `, mask [${mask.shape.join(', ')}]` : ''}`;
  const fail = (why: string) => new AtelierGpuError('usage', `${entry === 'argmax' ? 'argmaxTokens' : 'sampleTokens'}: ${why} (${shapes})`);
  if (logits.shape.length === 0 || logits.dtype !== 'f32' || logits.dim(-1) === 0) throw fail('logits must be f32 [..., V] with V >= 1');
  const vocab = logits.dim(-1);
  if (vocab >= 2 ** 24) throw fail('vocabularies of 2^24 tokens or more are not supported');
  const rows = logits.size / vocab;
  if (mask && (mask.dtype !== 'f32' || mask.dim(-1) !== vocab || (mask.size !== vocab && mask.size !== logits.size))) {
    throw fail(`mask must be f32 [1, ${vocab}] or of the logits' shape`);
  }
  const ctx = rec.ctx;
  const out = options.out ?? ctx.empty(logits.shape.slice(0, -1), 'u32', 'tokens');
  if (out.size !== rows || out.dtype !== 'u32') throw fail(`out must be u32 with ${rows} elements`);
  if (rows === 0) return out;
  const red = rowReduction(ctx);
  const lanes = laneVector(vocab);
  const kernel = ctx.kernels.get({
    file: 'sampling',
    entry,
    includes: [...red.includes, 'lane_vector'],
    defines: { WG: red.wg, MASKED: mask !== undefined, ...lanes.defines },
  });
  const grid = rowGrid(rows);
  const n = vocab / lanes.width;
  const maskRow = mask && mask.size === logits.size ? n : 0;
  // Without a mask the logits stand in for the binding; MASKED = false means it is never read.
  rec.dispatch(kernel, { logits, mask: mask ?? logits, tokens: out }, { n, rows, grid_x: grid.gridX, mask_row: maskRow, ...params }, grid.workgroups);
  return out;
}
