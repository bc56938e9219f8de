/** CPU references (float64) for kernels/sampling.wgsl. */

export interface MaskRef {
  data: ArrayLike<number>;
  /** 0: one mask row for every logits row. */
  rowStride: number;
}

function maskedRow(logits: ArrayLike<number>, vocab: number, row: number, mask?: MaskRef): Float64Array {
  return Float64Array.from({ length: vocab }, (_, j) => logits[row * vocab + j] + (mask ? mask.data[row * mask.rowStride + j] : 0));
}

/** Index of the largest logit + mask per row (lowest index on ties; 0 when all are -inf). */
export function argmaxRef(logits: ArrayLike<number>, vocab: number, mask?: MaskRef): Uint32Array {
  const rows = logits.length / vocab;
  return Uint32Array.from({ length: rows }, (_, r) => {
    const x = maskedRow(logits, vocab, r, mask);
    let best = 0;
    for (let j = 1; j < vocab; j++) if (x[j] > x[best]) best = j;
    return best;
  });
}

function pcgHash(v: number): number {
  const state = (Math.imul(v >>> 0, 747796405) + 2891336453) >>> 0;
  const word = Math.imul(((state >>> (((state >>> 28) + 4) & 31)) ^ state) >>> 0, 277803737) >>> 0;
  return ((word >>> 22) ^ word) >>> 0;
}

/** The kernel's uniform draw for a row: hash(seed, row), 24 bits, in [0, 1). */
export function drawUniform(seed: number, row: number): number {
  return (pcgHash((seed ^ pcgHash(row)) >>> 0) >>> 8) / 16777216;
}

export interface SampleRefOptions {
  temperature: number;
  topK?: number;
  topP?: number;
  seed: number;
  mask?: MaskRef;
}

export interface SampleRefRow {
  token: number;
  /** Tokens that top-k/top-p keep. */
  kept: boolean[];
  /** exp(x - max) per token (0 where not kept). */
  weight: Float64Array;
  /** u * total kept weight: the token is the first whose running sum of weights passes it. */
  target: number;
  total: number;
  /** Kept mass over the top-p requirement p * (top-k mass), where top-p cut: 0 means on the edge. */
  topPSlack: number;
}

/** Temperature, then top-k, then top-p over what top-k kept (ties at a threshold kept), then the draw. */
export function sampleRef(logits: ArrayLike<number>, vocab: number, options: SampleRefOptions): SampleRefRow[] {
  const { temperature, topK = 0, topP = 1, seed, mask } = options;
  const rows = logits.length / vocab;
  return Array.from({ length: rows }, (_, r) => {
    const x = maskedRow(logits, vocab, r, mask).map((v) => v / temperature);
    const finite = [...x.keys()].filter((j) => x[j] > -Infinity);
    const kept = new Array<boolean>(vocab).fill(false);
    const weight = new Float64Array(vocab);
    if (finite.length === 0) return { token: 0, kept, weight, target: 0, total: 0, topPSlack: Infinity };
    const order = [...finite].sort((a, b) => x[b] - x[a]);
    const m = x[order[0]];
    let threshold = -Infinity;
    if (topK > 0 && topK < order.length) threshold = x[order[topK - 1]];
    let topPSlack = Infinity;
    if (topP < 1) {
      const inK = order.filter((j) => x[j] >= threshold);
      const massK = inK.reduce((s, j) => s + Math.exp(x[j] - m), 0);
      let cum = 0;
      for (let i = 0; i < inK.length; i++) {
        cum += Math.exp(x[inK[i]] - m);
        const tiedNext = i + 1 < inK.length && x[inK[i + 1]] === x[inK[i]];
        if (!tiedNext && cum >= topP * massK) {
          threshold = x[inK[i]];
          topPSlack = (cum - topP * massK) / massK;
          break;
        }
      }
    }
    let total = 0;
    for (const j of finite) {
      if (x[j] >= threshold) {
        kept[j] = true;
        weight[j] = Math.exp(x[j] - m);
        total += weight[j];
      }
    }
    const target = drawUniform(seed, r) * total;
    let acc = 0;
    let token = 0;
    for (let j = 0; j < vocab; j++) {
      if (!kept[j]) continue;
      token = j;
      acc += weight[j];
      if (acc > target) break;
    }
    return { token, kept, weight, target, total, topPSlack };
  });
}
