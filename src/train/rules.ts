/**
 * The table of derivative rules: op name -> backward function recording GPU kernels. Each rule
 * reads what its forward saved (src/train/ops.ts records the nodes) and returns one gradient per
 * input (null where the input needs none). Where an input was broadcast, the rule sums its
 * gradient back to the input's shape (reduceToShape).
 */
import type { Activation, BinaryOp } from '../runtime/ops/elementwise.ts';
import { padAxis, slice } from '../runtime/ops/layout.ts';
import { matmul } from '../runtime/ops/matmul.ts';
import type { Recorder } from '../runtime/recorder.ts';
import type { Tensor } from '../runtime/tensor.ts';
import type { Rule } from './autograd.ts';
import { activationBackward, expand, fill, reduceToShape, scale } from './backward/elementwise.ts';
import { attentionBackward, attentionQkvBackward, type AttentionSaved } from './backward/attention.ts';
import { conv2dBackward, type Conv2dGeometry } from './backward/conv2d.ts';
import { embeddingBackward } from './backward/embedding.ts';
import { layerNormBackward, softmaxBackward } from './backward/rows.ts';
import { crossEntropyBackward, pinballBackward, regressionBackward, type LossState } from './losses.ts';

function rule<S>(op: string, backward: Rule<S>['backward']): Rule<S> {
  return { op, backward };
}

const sameShape = (a: readonly number[], b: readonly number[]) => a.length === b.length && a.every((d, i) => d === b[i]);

/** dOut summed back to `shape` (dOut itself when nothing was broadcast), times s. */
function unbroadcast(rec: Recorder, dOut: Tensor, shape: readonly number[], s = 1): Tensor {
  if (s === 1 && sameShape(dOut.shape, shape)) return dOut;
  return reduceToShape(rec, dOut, shape, s);
}

/** A gradient buffer for a loss's predictions: zeros first when the loss reads only some columns. */
function predictionGrad(rec: Recorder, pred: Tensor, state: LossState): Tensor | undefined {
  return state.window.columns === state.window.ld ? undefined : fill(rec, pred.shape, 0);
}

export interface BinarySaved {
  op: BinaryOp;
}

export interface ActivationSaved {
  act: Activation;
}

export interface ScaleSaved {
  s: number;
}

export interface LayerNormSaved {
  mean: Tensor;
  rstd: Tensor;
}

export interface SumToSaved {
  /** The factor the forward applied (1 for a sum, 1 / count for a mean). */
  s: number;
}

export interface SliceSaved {
  axis: number;
  start: number;
}

export interface ConcatSaved {
  axis: number;
}

export interface EmbeddingSaved {
  ids: Tensor;
  /** Position of the first token in the position table (when positions are an input). */
  posOffset: number;
}

export interface CrossEntropySaved {
  state: LossState;
  labels: Tensor;
}

export interface RegressionSaved {
  state: LossState;
  target: Tensor;
  huberDelta: number;
}

export interface PinballSaved {
  state: LossState;
  target: Tensor;
  taus: Tensor;
}

export const RULES = {
  /** out = a OP b with broadcasting: add/sub pass the gradient through, mul multiplies by the other input. */
  binary: rule<BinarySaved>('binary', (rec, node, dOut, needs) => {
    const [a, b] = node.inputs;
    const op = node.saved.op;
    if (op === 'mul') {
      return [
        needs[0] ? reduceToShape(rec, dOut, a.shape, 1, b.value) : null,
        needs[1] ? reduceToShape(rec, dOut, b.shape, 1, a.value) : null,
      ];
    }
    return [needs[0] ? unbroadcast(rec, dOut, a.shape) : null, needs[1] ? unbroadcast(rec, dOut, b.shape, op === 'sub' ? -1 : 1) : null];
  }),

  /** out = act(x): dx = dOut * act'(x). */
  activation: rule<ActivationSaved>('activation', (rec, node, dOut) => [activationBackward(rec, dOut, node.inputs[0].value, node.saved.act)]),

  /** out = s * x. */
  scale: rule<ScaleSaved>('scale', (rec, node, dOut) => [node.saved.s === 1 ? dOut : scale(rec, dOut, node.saved.s)]),

  /** A view with another shape: the gradient is the same buffer, re-labelled by the driver. */
  reshape: rule<null>('reshape', (_rec, _node, dOut) => [dOut]),

  /** out = s * (x summed over the dimensions where out has size 1; sums, means, mean pooling): broadcast back. */
  sumTo: rule<SumToSaved>('sumTo', (rec, node, dOut) => {
    const x = node.inputs[0];
    return [expand(rec, dOut, x.shape, node.saved.s)];
  }),

  /** out = x broadcast to a larger shape (a CLS token over the batch): sum back. */
  broadcastTo: rule<null>('broadcastTo', (rec, node, dOut) => [unbroadcast(rec, dOut, node.inputs[0].shape)]),

  /** A window along one axis: the gradient is dOut placed in a zero tensor of the input's shape. */
  slice: rule<SliceSaved>('slice', (rec, node, dOut) => {
    const { axis, start } = node.saved;
    return [padAxis(rec, dOut, axis, start, node.inputs[0].shape[axis])];
  }),

  /** Inputs joined along one axis: each input's gradient is its window of dOut. */
  concat: rule<ConcatSaved>('concat', (rec, node, dOut, needs) => {
    const { axis } = node.saved;
    let offset = 0;
    return node.inputs.map((x, i) => {
      const len = x.shape[axis];
      offset += len;
      return needs[i] ? slice(rec, dOut, axis, offset - len, len) : null;
    });
  }),

  /** LayerNorm over the last dimension, from the saved per-row mean and rstd. */
  layerNorm: rule<LayerNormSaved>('layerNorm', (rec, node, dOut) => {
    const [x, gamma] = node.inputs;
    const g = layerNormBackward(rec, dOut, x.value, gamma.value, node.saved.mean, node.saved.rstd);
    return [g.dx, g.dgamma, g.dbeta];
  }),

  /** Softmax over the last dimension, from its output. */
  softmax: rule<null>('softmax', (rec, node, dOut) => [softmaxBackward(rec, dOut, node.output.value)]),

  /** Attention (causal or cross) through GEMMs, from the probabilities the forward kept. */
  attention: rule<AttentionSaved>('attention', (rec, node, dOut) => {
    const [q, k, v] = node.inputs;
    const g = attentionBackward(rec, dOut, q.value, k.value, v.value, node.saved);
    return [g.dq, g.dk, g.dv];
  }),

  /** Self-attention over a fused projection's column thirds: one gradient, written by columns. */
  attentionQkv: rule<AttentionSaved>('attentionQkv', (rec, node, dOut) => [attentionQkvBackward(rec, dOut, node.inputs[0].value, node.saved)]),

  /**
   * y = x w^T + bias with w [out, in] (nn.Linear): dx = dy w and dw = dy^T x, both through the
   * forward's matmul kernel (its transA/transB scratch copies); the bias gets dy's column sums.
   */
  linear: rule<null>('linear', (rec, node, dOut, needs) => {
    const [x, w] = node.inputs;
    const [out, inDim] = w.shape;
    const rows = x.value.size / inDim;
    const dy2d = dOut.reshape([rows, out]);
    return [
      needs[0] ? matmul(rec, dOut, w.value) : null,
      needs[1] ? matmul(rec, dy2d, x.value.reshape([rows, inDim]), { transA: true }) : null,
      needs[2] ? reduceToShape(rec, dy2d, [out]) : null,
    ];
  }),

  /** NHWC convolution + bias (weights [Cout, kh, kw, Cin]): dedicated dx and dw kernels, bias = column sums. */
  conv2d: rule<Conv2dGeometry>('conv2d', (rec, node, dOut, needs) => {
    const [x, w] = node.inputs;
    const g = conv2dBackward(rec, dOut, x.value, w.value, node.saved, [needs[0], needs[1], needs[2]]);
    return [g.dx, g.dw, g.dbias];
  }),

  /**
   * Embedding lookup (+ position rows): the table gets the deterministic scatter-add of dOut rows;
   * the position table gets dOut summed over the batch, at rows posOffset ..
   */
  embedding: rule<EmbeddingSaved>('embedding', (rec, node, dOut, needs) => {
    const [table, positions] = node.inputs;
    const { ids, posOffset } = node.saved;
    const dim = table.shape[1];
    const grads: (Tensor | null)[] = [needs[0] ? embeddingBackward(rec, dOut, ids, table.shape[0]) : null];
    if (positions) {
      let dpos: Tensor | null = null;
      if (needs[1]) {
        const seqLen = ids.dim(-1);
        const perPosition = reduceToShape(rec, dOut.reshape([dOut.size / (seqLen * dim), seqLen, dim]), [1, seqLen, dim]);
        dpos = padAxis(rec, perPosition.reshape([seqLen, dim]), 0, posOffset, positions.shape[0]);
        perPosition.dispose();
      }
      grads.push(dpos);
    }
    return grads;
  }),

  /** Fused softmax + cross-entropy: d logits = dL * w_r / W * (softmax - onehot). */
  crossEntropy: rule<CrossEntropySaved>('crossEntropy', (rec, node, dOut) => {
    const { state, labels } = node.saved;
    const logits = node.inputs[0].value;
    return [crossEntropyBackward(rec, state, logits, labels, dOut, predictionGrad(rec, logits, state))];
  }),

  regression: rule<RegressionSaved>('regression', (rec, node, dOut) => {
    const { state, target, huberDelta } = node.saved;
    const pred = node.inputs[0].value;
    return [regressionBackward(rec, state, pred, target, dOut, huberDelta, predictionGrad(rec, pred, state))];
  }),

  pinball: rule<PinballSaved>('pinball', (rec, node, dOut) => {
    const { state, target, taus } = node.saved;
    const pred = node.inputs[0].value;
    return [pinballBackward(rec, state, pred, target, taus, dOut, predictionGrad(rec, pred, state))];
  }),
};

