/**
 * ModelOps over tape variables (training): the model's graph (src/model/graph.ts) records each op
 * on the tape its inputs belong to, with its derivative rule. `release` does nothing: the tape
 * frees what backward no longer needs.
 */
import { composedFusions, type BasicOps, type ModelOps } from '../model/graph.ts';
import type { Var } from './autograd.ts';
import * as F from './ops.ts';

const basicTapeOps: BasicOps<Var> = {
  linear: (x, w, b, act = 'none') => F.linear(x, w, b, act),
  conv2d: (x, w, b, o) => F.conv2d(x, w, b, o),
  layerNorm: (x, g, b, eps) => F.layerNorm(x, g, b, eps),
  attention: (q, k, v, o) => F.attention(q, k, v, o),
  add: (a, b) => F.add(a, b),
  slice: (x, axis, start, length) => F.slice(x, axis, start, length),
  reshape: (x, shape) => F.reshape(x, shape),
  meanTokens: (x) => {
    const [batch, , dim] = x.shape;
    return F.reshape(F.meanAxis(x, 1), [batch, dim]);
  },
  embed: (ids, table) => F.embedding(table, ids),
  shape: (x) => x.shape,
  release: () => {},
};

// attentionQkv reads q, k, v in place (F.attentionQkv); the other fusions are their compositions.
export const tapeOps: ModelOps<Var> = { ...basicTapeOps, ...composedFusions(basicTapeOps), attentionQkv: (qkv, o) => F.attentionQkv(qkv, o) };
