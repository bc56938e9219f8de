/**
 * Differentiable ops: each records the engine's forward op into the tape's recorder and adds a
 * node with its rule from src/train/rules.ts and what that rule needs saved.
 */
import { AtelierGpuError } from '../runtime/errors.ts';
import { attentionGemm, type AttentionOptions } from '../runtime/ops/attention.ts';
import { qkvColumns } from '../runtime/ops/columns.ts';
import { activation as activationOp, binary as binaryOp, type Activation, type BinaryOp } from '../runtime/ops/elementwise.ts';
import { conv2d as conv2dOp } from '../runtime/ops/conv2d.ts';
import { embedding as embeddingOp } from '../runtime/ops/embedding.ts';
import { layerNorm as layerNormOp } from '../runtime/ops/layernorm.ts';
import { reduceLastDim } from '../runtime/ops/reduce.ts';
import { concat as concatOp, slice as sliceOp } from '../runtime/ops/layout.ts';
import { matmul } from '../runtime/ops/matmul.ts';
import { softmax as softmaxOp } from '../runtime/ops/softmax.ts';
import type { Tensor } from '../runtime/tensor.ts';
import type { Var } from './autograd.ts';
import { expand, reduceToShape, scale as scaleOp } from './backward/elementwise.ts';
import { crossEntropy as crossEntropyOp, pinball as pinballOp, regression as regressionOp, type CrossEntropyOptions, type LossState, type PinballOptions, type RegressionOptions } from './losses.ts';
import { RULES } from './rules.ts';

function lossOwned(s: LossState): Tensor[] {
  return s.lse ? [s.denom, s.rowWeight, s.lse] : [s.denom, s.rowWeight];
}

/**
 * x [..., in] times w [out, in] transposed (nn.Linear), plus bias [out] (fused into the product),
 * then the activation as its own node (its rule needs the pre-activation values).
 */
export function linear(x: Var, w: Var, bias: Var | null = null, act: Activation = 'none'): Var {
  const tape = x.tape;
  const y = matmul(tape.rec, x.value, w.value, { transB: true, bias: bias?.value });
  const out = tape.record(RULES.linear, bias ? [x, w, bias] : [x, w], y, null);
  return act === 'none' ? out : activation(out, act);
}

/**
 * NHWC convolution x [N, H, W, Cin] with weights [Cout, kh, kw, Cin] and bias [Cout] (fused), then
 * the activation as its own node (its rule needs the pre-activation values).
 */
export function conv2d(x: Var, w: Var, bias: Var, o: { stride: number; padding: number; activation?: Activation }): Var {
  const tape = x.tape;
  const y = conv2dOp(tape.rec, x.value, w.value, { bias: bias.value, stride: o.stride, padding: o.padding });
  const out = tape.record(RULES.conv2d, [x, w, bias], y, { stride: o.stride, padding: o.padding });
  const act = o.activation ?? 'none';
  return act === 'none' ? out : activation(out, act);
}

/** a OP b with broadcasting (up to 4-D), then an optional activation (recorded as its own node). */
export function binary(op: BinaryOp, a: Var, b: Var, act: Activation = 'none'): Var {
  const tape = a.tape;
  const out = tape.record(RULES.binary, [a, b], binaryOp(tape.rec, op, a.value, b.value), { op });
  return act === 'none' ? out : activation(out, act);
}

export const add = (a: Var, b: Var, act: Activation = 'none') => binary('add', a, b, act);
export const sub = (a: Var, b: Var, act: Activation = 'none') => binary('sub', a, b, act);
export const mul = (a: Var, b: Var, act: Activation = 'none') => binary('mul', a, b, act);

export function activation(x: Var, act: Activation): Var {
  const tape = x.tape;
  return tape.record(RULES.activation, [x], activationOp(tape.rec, x.value, act), { act });
}

/** s * x for a constant s (e.g. a task's weight in a multitask loss). */
export function scale(x: Var, s: number): Var {
  const tape = x.tape;
  return tape.record(RULES.scale, [x], scaleOp(tape.rec, x.value, s), { s });
}

/** The same data with another shape (no copy). */
export function reshape(x: Var, shape: readonly number[]): Var {
  const tape = x.tape;
  return tape.record(RULES.reshape, [x], x.value.reshape(shape), null, { viewOf: x });
}

/**
 * Sum x over the dimensions where `shape` has size 1 (x's shape otherwise), times s: e.g. mean
 * pooling over tokens is sumTo(x [B, T, D], [B, 1, D], 1 / T). Up to 4-D.
 */
export function sumTo(x: Var, shape: readonly number[], s = 1): Var {
  const tape = x.tape;
  return tape.record(RULES.sumTo, [x], reduceToShape(tape.rec, x.value, shape, s), { s });
}

/** Mean over one axis, keeping it with size 1 ([B, T, D] -> [B, 1, D] for axis 1). */
export function meanAxis(x: Var, axis: number): Var {
  const shape = [...x.shape];
  const a = normalAxis('meanAxis', shape, axis);
  const count = shape[a];
  shape[a] = 1;
  return sumTo(x, shape, 1 / count);
}

/** Sum (or mean) of every element, shape [1] (a scalar loss from a tensor). */
export function sumAll(x: Var, mean = false): Var {
  const tape = x.tape;
  const y = reduceLastDim(tape.rec, x.value.reshape([1, x.value.size]), mean ? 'mean' : 'sum');
  return tape.record(RULES.sumTo, [x], y, { s: mean ? 1 / x.value.size : 1 });
}

/** x repeated along its size-1 dimensions to `shape` (a learned CLS token for every image). */
export function broadcastTo(x: Var, shape: readonly number[]): Var {
  const tape = x.tape;
  return tape.record(RULES.broadcastTo, [x], expand(tape.rec, x.value, shape), null);
}

function normalAxis(op: string, shape: readonly number[], axis: number): number {
  const a = axis < 0 ? shape.length + axis : axis;
  if (a < 0 || a >= shape.length) throw new AtelierGpuError('usage', `${op}: axis ${axis} is outside [${shape.join(', ')}]`);
  return a;
}

/** x[..., start : start + length, ...] along `axis` (q, k, v out of a fused projection). */
export function slice(x: Var, axis: number, start: number, length: number): Var {
  const tape = x.tape;
  const a = normalAxis('slice', x.shape, axis);
  return tape.record(RULES.slice, [x], sliceOp(tape.rec, x.value, a, start, length), { axis: a, start });
}

/** Inputs joined along `axis` (a CLS token before the patch tokens). */
export function concat(xs: readonly Var[], axis: number): Var {
  if (xs.length === 0) throw new AtelierGpuError('usage', 'concat: no inputs');
  const tape = xs[0].tape;
  const a = normalAxis('concat', xs[0].shape, axis);
  return tape.record(RULES.concat, xs, concatOp(tape.rec, xs.map((x) => x.value), a), { axis: a });
}

/**
 * Rows of `table` [vocab, D] for u32 ids [..., T] (the caller keeps the ids alive until the step is
 * submitted), plus rows posOffset + t of a position table when given. Ids must be < vocab (check
 * host ids with tokenIdTensor): the forward clamps larger ids, the backward gives them no gradient.
 */
export function embedding(table: Var, ids: Tensor, positions?: Var, posOffset = 0): Var {
  const tape = table.tape;
  const out = embeddingOp(tape.rec, table.value, ids, positions ? { positions: positions.value, posOffset } : {});
  return tape.record(RULES.embedding, positions ? [table, positions] : [table], out, { ids, posOffset });
}

/** LayerNorm over the last dimension (saves mean and rstd for backward). */
export function layerNorm(x: Var, gamma: Var, beta: Var, eps = 1e-5): Var {
  const tape = x.tape;
  const r = layerNormOp(tape.rec, x.value, gamma.value, beta.value, { eps, stats: true });
  return tape.record(RULES.layerNorm, [x, gamma, beta], r.y, { mean: r.mean!, rstd: r.rstd! }, { ownedSaved: [r.mean!, r.rstd!] });
}

/** Softmax over the last dimension. */
export function softmax(x: Var): Var {
  const tape = x.tape;
  return tape.record(RULES.softmax, [x], softmaxOp(tape.rec, x.value), null);
}

/**
 * Multi-head attention: q [B, Tq, H*Dh], k and v [B, Tk, H*Dh] (self-attention with `causal`,
 * cross-attention without), through the GEMM path, which keeps the probabilities for backward.
 */
export function attention(q: Var, k: Var, v: Var, options: Omit<AttentionOptions, 'out' | 'kernel' | 'kvLengths'>): Var {
  const tape = q.tape;
  const kvLength = options.kvLength ?? k.shape[1];
  const causal = options.causal ?? false;
  const resolved = {
    heads: options.heads,
    causal,
    past: causal ? (options.past ?? kvLength - q.shape[1]) : 0,
    kvLength,
    scale: options.scale ?? 1 / Math.sqrt(q.shape[2] / options.heads),
  };
  const { out, probs } = attentionGemm(tape.rec, q.value, k.value, v.value, resolved);
  return tape.record(RULES.attention, [q, k, v], out, { ...resolved, probs }, { ownedSaved: [probs] });
}

/**
 * Self-attention over a fused projection qkv [B, L, 3D] (q, k, v its column thirds, all L keys
 * valid): the heads are read from and the gradient written into qkv's columns in place, with no
 * slices of q, k and v (and no pads and sums of their gradients) around the GEMM attention.
 */
export function attentionQkv(qkv: Var, options: { heads: number; causal: boolean }): Var {
  const tape = qkv.tape;
  const [, length, width] = qkv.shape;
  const resolved = { heads: options.heads, causal: options.causal, past: 0, kvLength: length, scale: 1 / Math.sqrt(width / 3 / options.heads) };
  const { out, probs } = attentionGemm(tape.rec, ...qkvColumns(qkv.value), resolved);
  return tape.record(RULES.attentionQkv, [qkv], out, { ...resolved, probs }, { ownedSaved: [probs] });
}

/** Sum of several scalar losses, each times its weight. */
export function weightedSum(terms: readonly { loss: Var; weight: number }[]): Var {
  if (terms.length === 0) throw new AtelierGpuError('usage', 'weightedSum: no terms');
  let total = scale(terms[0].loss, terms[0].weight);
  for (const t of terms.slice(1)) total = add(total, scale(t.loss, t.weight));
  return total;
}

/** One task of a fused heads output [rows, columns]: which columns it reads, its loss and its weight. */
export type HeadLoss =
  | ({ kind: 'crossEntropy'; name: string; weight: number; col0: number; classes: number; labels: Tensor } & Omit<CrossEntropyOptions, 'col0' | 'classes'>)
  | ({ kind: 'regression'; name: string; weight: number; col0: number; target: Tensor } & Omit<RegressionOptions, 'col0'>)
  | ({ kind: 'pinball'; name: string; weight: number; col0: number; target: Tensor; taus: Tensor } & Omit<PinballOptions, 'col0'>);

/**
 * The multitask loss over a fused heads output: per-head cross-entropy (missing labels -1 skipped,
 * optional class weights), regression and quantile losses on their column windows, summed with
 * their weights. Each head's loss is retained (readable after backward, e.g. for logging).
 */
export function headsLoss(out: Var, heads: readonly HeadLoss[]): { total: Var; perHead: Record<string, Var> } {
  const perHead: Record<string, Var> = {};
  const terms = heads.map((h) => {
    let loss: Var;
    if (h.kind === 'crossEntropy') loss = crossEntropy(out, h.labels, { col0: h.col0, classes: h.classes, classWeight: h.classWeight, mask: h.mask });
    else if (h.kind === 'regression') loss = regression(out, h.target, { col0: h.col0, huberDelta: h.huberDelta, mask: h.mask });
    else loss = pinball(out, h.target, h.taus, { col0: h.col0, mask: h.mask });
    if (perHead[h.name]) throw new AtelierGpuError('usage', `headsLoss: two heads are named '${h.name}'`);
    perHead[h.name] = out.tape.retain(loss);
    return { loss, weight: h.weight };
  });
  return { total: weightedSum(terms), perHead };
}

/** Softmax cross-entropy over logits [rows, classes]; labels i32 [rows] (-1 = missing). Returns a [1] loss. */
export function crossEntropy(logits: Var, labels: Tensor, opts: CrossEntropyOptions = {}): Var {
  const tape = logits.tape;
  const state = crossEntropyOp(tape.rec, logits.value, labels, opts);
  return tape.record(RULES.crossEntropy, [logits], state.loss, { state, labels }, { ownedSaved: lossOwned(state) });
}

/** MSE or Huber loss of predictions [rows] (or one column of [rows, n]) against targets [rows]. */
export function regression(pred: Var, target: Tensor, opts: RegressionOptions = {}): Var {
  const tape = pred.tape;
  const state = regressionOp(tape.rec, pred.value, target, opts);
  return tape.record(RULES.regression, [pred], state.loss, { state, target, huberDelta: opts.huberDelta ?? 0 }, { ownedSaved: lossOwned(state) });
}

/** Pinball loss of quantile predictions [rows, quantiles] against targets [rows]. */
export function pinball(pred: Var, target: Tensor, taus: Tensor, opts: PinballOptions = {}): Var {
  const tape = pred.tape;
  const state = pinballOp(tape.rec, pred.value, target, taus, opts);
  return tape.record(RULES.pinball, [pred], state.loss, { state, target, taus }, { ownedSaved: lossOwned(state) });
}
