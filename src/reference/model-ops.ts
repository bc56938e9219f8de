/**
 * ModelOps over float64 host arrays: the listing model's graph (src/model/graph.ts) evaluated with
 * the kernels' CPU references. Tests compare every block of the GPU model against it.
 */
import { composedFusions, type BasicOps, type ModelOps } from '../model/graph.ts';
import type { Tensor } from '../runtime/tensor.ts';
import { attentionRef } from './attention.ts';
import { conv2dRef } from './conv2d.ts';
import { binaryRef } from './elementwise.ts';
import { embeddingRef } from './embedding.ts';
import { sliceRef } from './layout.ts';
import { layerNormRef } from './layernorm.ts';
import { matmulRef } from './matmul.ts';
import { meanAxis1Ref } from './reduce.ts';

export interface HostTensor {
  shape: number[];
  data: Float64Array;
}

export const host = (shape: readonly number[], data: ArrayLike<number>): HostTensor => ({ shape: [...shape], data: Float64Array.from(data) });

/** `ids` tensors (u32 on the GPU) are given as host arrays through this map. */
export function referenceOps(idValues: ReadonlyMap<Tensor, ArrayLike<number>>): ModelOps<HostTensor> {
  const ids = (t: Tensor) => {
    const v = idValues.get(t);
    if (!v) throw new Error('referenceOps: token ids tensor has no host values');
    return v;
  };
  const basic: BasicOps<HostTensor> = {
    linear: (x, w, b, act = 'none') => {
      const r = matmulRef(x.data, x.shape, w.data, w.shape, { transB: true, bias: b?.data, activation: act });
      return host(r.shape, r.data);
    },
    conv2d: (x, w, b, o) => {
      const r = conv2dRef(x.data, x.shape, w.data, w.shape, { bias: b.data, stride: o.stride, padding: o.padding, activation: o.activation });
      return host(r.shape, r.data);
    },
    layerNorm: (x, g, b, eps) => host(x.shape, layerNormRef(x.data, x.shape.at(-1)!, g.data, b.data, eps).y),
    attention: (q, k, v, o) => {
      const [batch, tq, dim] = q.shape;
      const tk = k.shape[1];
      const data = attentionRef(q.data, k.data, v.data, {
        batch,
        tq,
        capacity: tk,
        tk,
        heads: o.heads,
        headDim: dim / o.heads,
        causal: o.causal,
        past: tk - tq,
        scale: 1 / Math.sqrt(dim / o.heads),
      });
      return host(q.shape, data);
    },
    add: (a, b) => {
      const r = binaryRef('add', a.data, a.shape, b.data, b.shape);
      return host(r.shape, r.data);
    },
    slice: (x, axis, start, length) => {
      const shape = [...x.shape];
      shape[axis] = length;
      return host(shape, sliceRef(x.data, x.shape, axis, start, length));
    },
    reshape: (x, shape) => ({ shape: [...shape], data: x.data }),
    meanTokens: (x) => host([x.shape[0], x.shape[2]], meanAxis1Ref(x.data, x.shape[0], x.shape[1])),
    embed: (t, table) => host([...t.shape, table.shape[1]], embeddingRef(table.data, table.shape[1], ids(t), t.dim(-1))),
    shape: (x) => x.shape,
    release: () => {},
  };
  return { ...basic, ...composedFusions(basic) };
}
