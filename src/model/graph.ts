/**
 * The listing model's computation, written once over an abstract set of ops so the same code runs
 * for inference (`T = Tensor`, src/model/tensor-ops.ts: plain dispatches, intermediates freed as
 * soon as they are used) and for training (`T = Var`, src/train/tape-ops.ts: the same dispatches
 * recorded on the autograd tape).
 */
import type { Activation } from '../runtime/ops/elementwise.ts';
import type { Tensor } from '../runtime/tensor.ts';
import { tokenGrid, type ModelConfig } from './config.ts';

/** The primitive ops every op set implements. */
export interface BasicOps<T> {
  /** x [..., in] times w [out, in] transposed, plus bias, then the activation. */
  linear(x: T, w: T, b: T | null, act?: Activation): T;
  /** NHWC conv, weights [Cout, k, k, Cin]. */
  conv2d(x: T, w: T, b: T, o: { stride: number; padding: number; activation: Activation }): T;
  layerNorm(x: T, gamma: T, beta: T, eps: number): T;
  attention(q: T, k: T, v: T, o: { heads: number; causal: boolean }): T;
  add(a: T, b: T): T;
  slice(x: T, axis: number, start: number, length: number): T;
  reshape(x: T, shape: number[]): T;
  /** Mean over axis 1: [B, N, D] -> [B, D]. */
  meanTokens(x: T): T;
  /** Rows of `table` [V, D] for token ids [B, L] (u32) -> [B, L, D]. */
  embed(ids: Tensor, table: T): T;
  shape(x: T): readonly number[];
  /** The caller is done with an intermediate (inference frees it; the tape keeps what backward needs). */
  release(...xs: T[]): void;
}

/**
 * Composite ops the graph is written with, so inference can run each as fewer dispatches (a decode
 * step is ~30 tiny dispatches, and on lavapipe each costs ~28 µs whatever its size). Op sets without
 * fused kernels take them from `composedFusions`, whose definitions are the semantics.
 */
export interface FusedOps<T> {
  /** linear(layerNorm(x, gamma, beta, eps), w, b, act). */
  normLinear(x: T, gamma: T, beta: T, eps: number, w: T, b: T | null, act?: Activation): T;
  /** residual + linear(x, w, b). Consumes residual (inference adds into it in place). */
  addLinear(residual: T, x: T, w: T, b: T | null): T;
  /** Attention over a fused projection qkv [B, L, 3D] (q, k, v side by side). */
  attentionQkv(qkv: T, o: { heads: number; causal: boolean }): T;
  /** embed(ids, table) + embed(positions, posTable): token plus position embeddings. */
  embedAt(ids: Tensor, table: T, positions: Tensor, posTable: T): T;
}

export type ModelOps<T> = BasicOps<T> & FusedOps<T>;

/** The fused ops written with the basic ones (training's tape, the CPU reference). */
export function composedFusions<T>(ops: BasicOps<T>): FusedOps<T> {
  return {
    normLinear(x, gamma, beta, eps, w, b, act) {
      const h = ops.layerNorm(x, gamma, beta, eps);
      const y = ops.linear(h, w, b, act);
      ops.release(h);
      return y;
    },
    addLinear(residual, x, w, b) {
      const y = ops.linear(x, w, b);
      const out = ops.add(residual, y);
      ops.release(residual, y);
      return out;
    },
    attentionQkv(qkv, o) {
      const [q, k, v] = splitQkv(ops, qkv);
      const a = ops.attention(q, k, v, o);
      ops.release(q, k, v);
      return a;
    },
    embedAt(ids, table, positions, posTable) {
      const tokens = ops.embed(ids, table);
      const at = ops.embed(positions, posTable);
      const out = ops.add(tokens, at);
      ops.release(tokens, at);
      return out;
    },
  };
}

/** q, k, v slices of a fused projection [B, L, 3D]. */
function splitQkv<T>(ops: BasicOps<T>, qkv: T): [T, T, T] {
  const dim = ops.shape(qkv)[2] / 3;
  return [ops.slice(qkv, 2, 0, dim), ops.slice(qkv, 2, dim, dim), ops.slice(qkv, 2, 2 * dim, dim)];
}

export type Weights<T> = (name: string) => T;

export interface BackboneOutput<T> {
  /** [B, N, D] normalised patch tokens (the decoder's memory). */
  tokens: T;
  /** [B, D] mean of the tokens (the heads' input). */
  pooled: T;
}

/** Pre-LN transformer block: x + attn(ln1 x); then x + mlp(ln2 x). Consumes x. */
function encoderBlock<T>(ops: ModelOps<T>, w: Weights<T>, p: string, x: T, heads: number, eps: number): T {
  const qkv = ops.normLinear(x, w(`${p}.ln1.gamma`), w(`${p}.ln1.beta`), eps, w(`${p}.attn.qkv.weight`), w(`${p}.attn.qkv.bias`));
  const a = ops.attentionQkv(qkv, { heads, causal: false });
  ops.release(qkv);
  const x1 = ops.addLinear(x, a, w(`${p}.attn.proj.weight`), w(`${p}.attn.proj.bias`));
  ops.release(a);
  return mlpResidual(ops, w, p, x1, 'ln2', eps);
}

/** x + fc2(gelu(fc1(ln x))). Consumes x. */
function mlpResidual<T>(ops: ModelOps<T>, w: Weights<T>, p: string, x: T, lnName: string, eps: number): T {
  const m = ops.normLinear(x, w(`${p}.${lnName}.gamma`), w(`${p}.${lnName}.beta`), eps, w(`${p}.mlp.fc1.weight`), w(`${p}.mlp.fc1.bias`), 'gelu');
  const out = ops.addLinear(x, m, w(`${p}.mlp.fc2.weight`), w(`${p}.mlp.fc2.bias`));
  ops.release(m);
  return out;
}

/** images [B, H, W, 3] normalised floats -> patch tokens and pooled embedding. */
export function backboneForward<T>(ops: ModelOps<T>, w: Weights<T>, c: ModelConfig, images: T): BackboneOutput<T> {
  const b = c.backbone;
  let x = images;
  b.stemChannels.forEach((_, i) => {
    const y = ops.conv2d(x, w(`backbone.stem.${i}.weight`), w(`backbone.stem.${i}.bias`), { stride: 2, padding: 1, activation: 'gelu' });
    if (x !== images) ops.release(x);
    x = y;
  });
  const patches = ops.conv2d(x, w('backbone.patch.weight'), w('backbone.patch.bias'), { stride: b.patch, padding: 0, activation: 'none' });
  ops.release(x);
  const batch = ops.shape(images)[0];
  const grid = tokenGrid(b);
  const flat = ops.reshape(patches, [batch, grid.tokens, b.dim]);
  let h = ops.add(flat, w('backbone.pos'));
  ops.release(patches);
  for (let l = 0; l < b.layers; l++) h = encoderBlock(ops, w, `backbone.blocks.${l}`, h, b.heads, c.layerNormEps);
  const tokens = ops.layerNorm(h, w('backbone.norm.gamma'), w('backbone.norm.beta'), c.layerNormEps);
  ops.release(h);
  return { tokens, pooled: ops.meanTokens(tokens) };
}

/** Fused head logits of one catalog: [B, D] -> [B, classes + price outputs]. */
export function headLogits<T>(ops: ModelOps<T>, w: Weights<T>, catalog: string, pooled: T): T {
  return ops.linear(pooled, w(`heads.${catalog}.weight`), w(`heads.${catalog}.bias`));
}

/** The image tokens projected into the decoder's width, once per image. */
export function decoderMemory<T>(ops: ModelOps<T>, w: Weights<T>, tokens: T): T {
  return ops.linear(tokens, w('decoder.memory.weight'), w('decoder.memory.bias'));
}

/** Keys and values of one layer's cross-attention over the memory: each [B, N, D]. */
export function crossKeysValues<T>(ops: ModelOps<T>, w: Weights<T>, layer: number, memory: T): { k: T; v: T } {
  const dim = ops.shape(memory)[2];
  const kv = ops.linear(memory, w(`decoder.blocks.${layer}.cross.kv.weight`), w(`decoder.blocks.${layer}.cross.kv.bias`));
  const k = ops.slice(kv, 2, 0, dim);
  const v = ops.slice(kv, 2, dim, dim);
  ops.release(kv);
  return { k, v };
}

/**
 * How a decoder layer's self-attention sees keys and values, given the layer's fused projection qkv
 * [B, L, 3D]: during training, the whole sequence with a causal mask; during generation, the KV
 * cache (append the new rows, attend over the prefix).
 */
export type SelfAttention<T> = (layer: number, qkv: T) => T;

/** One decoder layer: causal self-attention, cross-attention over the image, MLP. Consumes x. */
export function decoderLayer<T>(ops: ModelOps<T>, w: Weights<T>, c: ModelConfig, layer: number, x: T, cross: { k: T; v: T }, selfAttention: SelfAttention<T>): T {
  const p = `decoder.blocks.${layer}`;
  const eps = c.layerNormEps;
  const qkv = ops.normLinear(x, w(`${p}.ln1.gamma`), w(`${p}.ln1.beta`), eps, w(`${p}.self.qkv.weight`), w(`${p}.self.qkv.bias`));
  const a = selfAttention(layer, qkv);
  ops.release(qkv);
  const x1 = ops.addLinear(x, a, w(`${p}.self.proj.weight`), w(`${p}.self.proj.bias`));
  ops.release(a);

  const cq = ops.normLinear(x1, w(`${p}.ln2.gamma`), w(`${p}.ln2.beta`), eps, w(`${p}.cross.q.weight`), w(`${p}.cross.q.bias`));
  const ca = ops.attention(cq, cross.k, cross.v, { heads: c.decoder.heads, causal: false });
  ops.release(cq);
  const x2 = ops.addLinear(x1, ca, w(`${p}.cross.proj.weight`), w(`${p}.cross.proj.bias`));
  ops.release(ca);
  return mlpResidual(ops, w, p, x2, 'ln3', eps);
}

/** Token embeddings plus position embeddings: ids and positions are u32 [B, L]. */
export function embedTokens<T>(ops: ModelOps<T>, w: Weights<T>, ids: Tensor, positions: Tensor): T {
  return ops.embedAt(ids, w('decoder.embed'), positions, w('decoder.pos'));
}

/** Final norm and tied output projection: [B, L, D] -> [B, L, V]. Consumes x. */
export function outputLogits<T>(ops: ModelOps<T>, w: Weights<T>, c: ModelConfig, x: T): T {
  const logits = ops.normLinear(x, w('decoder.norm.gamma'), w('decoder.norm.beta'), c.layerNormEps, w('decoder.embed'), null);
  ops.release(x);
  return logits;
}

/**
 * Teacher-forced decoder over whole sequences (training, and the no-cache reference used to test
 * the KV cache): ids and positions u32 [B, L] (positions 0..L-1 per row) -> logits [B, L, V].
 */
export function decoderForward<T>(ops: ModelOps<T>, w: Weights<T>, c: ModelConfig, ids: Tensor, positions: Tensor, memory: T): T {
  return outputLogits(ops, w, c, decoderHidden(ops, w, c, ids, positions, memory));
}

/** The decoder's last hidden states [B, L, D] before the output norm and projection (training projects only target rows). */
export function decoderHidden<T>(ops: ModelOps<T>, w: Weights<T>, c: ModelConfig, ids: Tensor, positions: Tensor, memory: T): T {
  let x = embedTokens(ops, w, ids, positions);
  for (let l = 0; l < c.decoder.layers; l++) {
    const cross = crossKeysValues(ops, w, l, memory);
    x = decoderLayer(ops, w, c, l, x, cross, (_layer, qkv) => ops.attentionQkv(qkv, { heads: c.decoder.heads, causal: true }));
    ops.release(cross.k, cross.v);
  }
  return x;
}
