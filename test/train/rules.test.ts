import { describe, expect, it } from 'vitest';
import { activationRef, binaryRef } from '../../src/reference/elementwise.ts';
import { attentionRef } from '../../src/reference/attention.ts';
import { conv2dRef } from '../../src/reference/conv2d.ts';
import { embeddingRef } from '../../src/reference/embedding.ts';
import { layerNormRef } from '../../src/reference/layernorm.ts';
import { crossEntropyRef, pinballRef, regressionRef } from '../../src/reference/loss.ts';
import { concatRef, sliceRef } from '../../src/reference/layout.ts';
import { softmaxRef } from '../../src/reference/softmax.ts';
import { randomArray, rng } from '../../src/reference/numeric.ts';
import type { Activation, BinaryOp } from '../../src/runtime/ops/elementwise.ts';
import * as F from '../../src/train/ops.ts';
import { useGpu } from '../helpers/gpu.ts';
import { gradCheck, type Tolerance } from './gradcheck.ts';

// Tolerances: GPU gradients are f32 (a few ulps per term, sums of up to ~100 terms here); the
// finite differences are float64 central differences (error ~h^2, h = 1e-4), so the f32 side
// dominates. Elementwise rules: atol 1e-4, rtol 1e-3. Losses: their gradients are O(1/rows).
const ELEMENTWISE: Tolerance = { atol: 1e-4, rtol: 1e-3 };
const LOSS: Tolerance = { atol: 2e-5, rtol: 2e-3 };

const size = (s: number[]) => s.reduce((p, d) => p * d, 1);

/** Values bounded away from 0 (ReLU's kink) by `gap`. */
function awayFromZero(n: number, seed: number, gap = 0.1): Float32Array {
  return randomArray(n, seed).map((v) => Math.sign(v || 1) * (gap + Math.abs(v)));
}

describe('autograd rules vs finite differences of the float64 references', () => {
  const gpu = useGpu();

  const binaryCases: [BinaryOp, number[], number[]][] = [
    ['add', [5, 3], [5, 3]],
    ['add', [4, 33], [33]],
    ['sub', [2, 3, 7], [3, 1]],
    ['mul', [3, 1, 5], [2, 1, 4, 1]],
    ['mul', [1], [6, 2]],
    ['sub', [1, 4], [3, 1]],
  ];
  it.each(binaryCases)('%s %j with %j (broadcast gradients summed back)', async (op, as, bs) => {
    const r = await gradCheck(
      gpu(),
      {
        inputs: [{ shape: as }, { shape: bs }],
        build: ([a, b]) => F.binary(op, a, b),
        reference: ([a, b]) => binaryRef(op, a, as, b, bs).data,
      },
      ELEMENTWISE,
    );
    expect(r.worst).toBeLessThanOrEqual(1);
    expect(r.leaked).toBe(0);
  });

  for (const act of ['relu', 'gelu', 'silu', 'none'] as Activation[]) {
    it.each([[1], [7, 13], [3, 300]])(`${act} on %j`, async (...shape) => {
      const r = await gradCheck(
        gpu(),
        {
          inputs: [{ shape, data: awayFromZero(size(shape), shape.length, 0.05).map((v) => v * 4) }],
          build: ([x]) => F.activation(x, act),
          reference: ([x]) => activationRef(x, act),
        },
        ELEMENTWISE,
      );
      expect(r.worst).toBeLessThanOrEqual(1);
      expect(r.leaked).toBe(0);
    });
  }

  it('a broadcast add with a fused activation, reshape and scale chained', async () => {
    const r = await gradCheck(
      gpu(),
      {
        inputs: [{ shape: [6, 5], data: awayFromZero(30, 4) }, { shape: [5] }],
        build: ([x, b]) => F.scale(F.reshape(F.add(x, b, 'gelu'), [3, 10]), -2.5),
        reference: ([x, b]) => activationRef(binaryRef('add', x, [6, 5], b, [5]).data, 'gelu').map((v) => -2.5 * v),
      },
      ELEMENTWISE,
    );
    expect(r.worst).toBeLessThanOrEqual(1);
    expect(r.leaked).toBe(0);
  });

  it('sums the gradients of a tensor used several times (x*x + x, w used by two branches)', async () => {
    const r = await gradCheck(
      gpu(),
      {
        inputs: [{ shape: [4, 6] }, { shape: [6] }],
        build: ([x, w]) => F.add(F.add(F.mul(x, x), x), F.mul(F.add(x, w), w)),
        reference: ([x, w]) => x.map((v, i) => v * v + v + (v + w[i % 6]) * w[i % 6]),
      },
      ELEMENTWISE,
    );
    expect(r.worst).toBeLessThanOrEqual(1);
    expect(r.leaked).toBe(0);
  });

  it('x + x hands the same upstream gradient to both inputs', async () => {
    const r = await gradCheck(
      gpu(),
      { inputs: [{ shape: [9] }], build: ([x]) => F.add(x, x), reference: ([x]) => x.map((v) => 2 * v) },
      ELEMENTWISE,
    );
    expect(r.worst).toBeLessThanOrEqual(1);
  });

  it('constants get no gradient and are left to their owner', async () => {
    const r = await gradCheck(
      gpu(),
      {
        inputs: [{ shape: [3, 4] }, { shape: [4], grad: false }],
        build: ([x, c]) => F.mul(x, c),
        reference: ([x, c]) => binaryRef('mul', x, [3, 4], c, [4]).data,
      },
      ELEMENTWISE,
    );
    expect(r.grads[1]).toBeNull();
    expect(r.worst).toBeLessThanOrEqual(1);
    expect(r.leaked).toBe(0);
  });

  /** y = act(x w^T + b) in float64, w [out, in]. */
  function linearRef(x: Float64Array, w: Float64Array, b: Float64Array | null, inDim: number, act: Activation): Float64Array {
    const out = w.length / inDim;
    const rows = x.length / inDim;
    const y = new Float64Array(rows * out);
    for (let r = 0; r < rows; r++)
      for (let o = 0; o < out; o++) {
        let s = b ? b[o] : 0;
        for (let i = 0; i < inDim; i++) s += x[r * inDim + i] * w[o * inDim + i];
        y[r * out + o] = s;
      }
    return activationRef(y, act);
  }

  it.each([
    [[3, 5], 4, true, 'gelu'],
    [[2, 3, 8], 6, true, 'none'],
    [[1, 1], 1, false, 'silu'],
    [[9, 7], 13, true, 'relu'],
  ] as [number[], number, boolean, Activation][])('linear: x %j times w [%i, in], bias %s, %s', async (xShape, out, withBias, act) => {
    const inDim = xShape[xShape.length - 1];
    const r = await gradCheck(
      gpu(),
      {
        inputs: [{ shape: xShape, data: awayFromZero(size(xShape), 2) }, { shape: [out, inDim] }, { shape: [out], grad: withBias }],
        build: ([x, w, b]) => F.linear(x, w, withBias ? b : null, act),
        reference: ([x, w, b]) => linearRef(x, w, withBias ? b : null, inDim, act),
      },
      ELEMENTWISE,
    );
    expect(r.worst).toBeLessThanOrEqual(1);
    expect(r.leaked).toBe(0);
  });

  // x [N, H, W, Cin], w [Cout, kh, kw, Cin], stride, padding, activation
  const convCases: [number[], number[], number, number, Activation][] = [
    [[2, 7, 6, 3], [4, 3, 3, 3], 2, 1, 'gelu'], // an RGB stem conv: odd sizes, scalar channels
    [[1, 8, 4, 5], [6, 2, 2, 5], 2, 0, 'none'], // patchify
    [[2, 5, 6, 8], [3, 3, 3, 8], 2, 1, 'none'], // vec4 channel chunks
    [[1, 4, 6, 4], [5, 2, 2, 4], 2, 0, 'none'],
    [[2, 5, 5, 2], [3, 3, 3, 2], 1, 1, 'relu'],
    [[1, 1, 1, 1], [1, 1, 1, 1], 1, 0, 'none'],
    [[1, 6, 7, 2], [2, 3, 2, 2], 3, 2, 'none'], // kh != kw, stride > kernel width
  ];
  it.each(convCases)('conv2d: x %j, w %j, stride %i, padding %i, %s', async (xShape, wShape, stride, padding, act) => {
    const r = await gradCheck(
      gpu(),
      {
        inputs: [{ shape: xShape, data: awayFromZero(size(xShape), 3) }, { shape: wShape }, { shape: [wShape[0]] }],
        build: ([x, w, b]) => F.conv2d(x, w, b, { stride, padding, activation: act }),
        reference: ([x, w, b]) => conv2dRef(x, xShape, w, wShape, { stride, padding, bias: b, activation: act }).data,
      },
      ELEMENTWISE,
    );
    expect(r.worst).toBeLessThanOrEqual(1);
    expect(r.leaked).toBe(0);
  });

  describe('reductions and broadcasts', () => {
    it.each([
      [[2, 5, 3], [2, 1, 3], 1 / 5],
      [[4, 6], [1, 6], 1],
      [[3, 1, 4, 2], [1, 1, 4, 1], 0.5],
      [[7], [1], 1],
    ])('sumTo %j -> %j times %d', async (from, to, s) => {
      const r = await gradCheck(
        gpu(),
        {
          inputs: [{ shape: from }],
          build: ([x]) => F.sumTo(x, to, s),
          reference: ([x]) => {
            // each element of x lands in the output element with its coordinates, 0 where `to` has size 1
            const out = new Float64Array(size(to));
            x.forEach((v, i) => {
              let target = 0;
              let rest = i;
              let stride = 1;
              for (let d = from.length - 1; d >= 0; d--) {
                const coord = rest % from[d];
                rest = Math.floor(rest / from[d]);
                if (to[d] !== 1) target += coord * stride;
                stride *= to[d];
              }
              out[target] += s * v;
            });
            return out;
          },
        },
        ELEMENTWISE,
      );
      expect(r.worst).toBeLessThanOrEqual(1);
      expect(r.leaked).toBe(0);
    });

    it('mean pooling over tokens (meanAxis 1) and a whole-tensor mean', async () => {
      const [B, T, D] = [3, 5, 4];
      const r = await gradCheck(
        gpu(),
        {
          inputs: [{ shape: [B, T, D] }],
          build: ([x]) => F.add(F.reshape(F.meanAxis(x, 1), [B * D]), F.broadcastTo(F.sumAll(x, true), [B * D])),
          reference: ([x]) => {
            const total = x.reduce((a, v) => a + v, 0) / x.length;
            return Float64Array.from({ length: B * D }, (_, i) => {
              const [b, d] = [Math.floor(i / D), i % D];
              let s = 0;
              for (let t = 0; t < T; t++) s += x[(b * T + t) * D + d];
              return s / T + total;
            });
          },
        },
        ELEMENTWISE,
      );
      expect(r.worst).toBeLessThanOrEqual(1);
      expect(r.leaked).toBe(0);
    });

    it('broadcastTo: a [1, 1, D] token repeated over the batch sums its gradient back', async () => {
      const r = await gradCheck(
        gpu(),
        {
          inputs: [{ shape: [1, 1, 6] }],
          build: ([cls]) => F.broadcastTo(cls, [4, 1, 6]),
          reference: ([cls]) => Float64Array.from({ length: 24 }, (_, i) => cls[i % 6]),
        },
        ELEMENTWISE,
      );
      expect(r.worst).toBeLessThanOrEqual(1);
    });
  });

  describe('layout', () => {
    it('splits a fused QKV projection (slice) and prepends a CLS token (concat)', async () => {
      const [B, T, D] = [2, 3, 4];
      const r = await gradCheck(
        gpu(),
        {
          inputs: [{ shape: [B, T, 3 * D] }, { shape: [B, 1, D] }],
          build: ([qkv, cls]) => F.mul(F.concat([cls, F.slice(qkv, 2, 0, D)], 1), F.concat([cls, F.slice(qkv, -1, 2 * D, D)], 1)),
          reference: ([qkv, cls]) => {
            const q = concatRef([cls, sliceRef(qkv, [B, T, 3 * D], 2, 0, D)], [[B, 1, D], [B, T, D]], 1);
            const v = concatRef([cls, sliceRef(qkv, [B, T, 3 * D], 2, 2 * D, D)], [[B, 1, D], [B, T, D]], 1);
            return q.map((x, i) => x * v[i]);
          },
        },
        ELEMENTWISE,
      );
      expect(r.worst).toBeLessThanOrEqual(1);
      // the K third of the fused projection is unused: zero gradient
      r.grads[0]!.gpu.forEach((g, i) => {
        if (Math.floor(i / D) % 3 === 1) expect(g).toBe(0);
      });
      expect(r.leaked).toBe(0);
    });
  });

  describe('embedding', () => {
    it.each([
      [7, 4, [2, 5], 0],
      [3, 6, [11], 2], // a small vocabulary: every id repeats
      [20, 5, [1, 3], 4],
    ])('vocab %i, dim %i, ids %j, positions from %i: table and position gradients', async (vocab, dim, idShape, posOffset) => {
      const ctx = gpu();
      const seqLen = idShape[idShape.length - 1];
      const maxPos = posOffset + seqLen + 2;
      const r = rng(vocab + dim);
      const ids = Uint32Array.from({ length: size(idShape) }, () => Math.floor(r() * vocab));
      const idsT = ctx.tensor(ids, idShape, 'u32');
      const result = await gradCheck(
        ctx,
        {
          inputs: [{ shape: [vocab, dim] }, { shape: [maxPos, dim] }],
          build: ([table, pos]) => F.embedding(table, idsT, pos, posOffset),
          reference: ([table, pos]) => embeddingRef(table, dim, ids, seqLen, { table: pos, offset: posOffset }),
        },
        ELEMENTWISE,
      );
      expect(result.worst).toBeLessThanOrEqual(1);
      expect(result.leaked).toBe(0);
      idsT.dispose();
    });
  });

  describe('losses', () => {
    function labels(rows: number, classes: number, seed: number, missingEvery = 0): Int32Array {
      const r = rng(seed);
      return Int32Array.from({ length: rows }, (_, i) => (missingEvery && i % missingEvery === 1 ? -1 : Math.floor(r() * classes)));
    }

    it.each([
      [1, 1, false, false],
      [5, 3, false, false],
      [37, 11, true, false],
      [20, 7, true, true],
    ])('softmax cross-entropy: %i rows x %i classes (missing labels %s, class weights + mask %s)', async (rows, classes, missing, weighted) => {
      const ctx = gpu();
      const y = labels(rows, classes, rows, missing ? 3 : 0);
      const classWeight = Float32Array.from({ length: classes }, (_, c) => 0.5 + ((c * 7) % 5) / 4);
      const mask = Float32Array.from({ length: rows }, (_, r) => (r % 4 === 2 ? 0 : 1));
      const yT = ctx.tensor(y, [rows], 'i32');
      const cwT = ctx.tensor(classWeight, [classes]);
      const maskT = ctx.tensor(mask, [rows]);
      const opts = weighted ? { classWeight: cwT, mask: maskT } : {};
      const r = await gradCheck(
        ctx,
        {
          inputs: [{ shape: [rows, classes], scale: 3 }],
          build: ([logits]) => F.crossEntropy(logits, yT, opts),
          reference: ([logits]) => [crossEntropyRef(logits, y, classes, { rows, ld: classes }, weighted ? { classWeight, mask } : {})],
        },
        LOSS,
      );
      expect(r.worst).toBeLessThanOrEqual(1);
      expect(r.leaked).toBe(0);
      yT.dispose();
      cwT.dispose();
      maskT.dispose();
    });

    it('cross-entropy of one head inside a wider matrix leaves the other columns at zero gradient', async () => {
      const ctx = gpu();
      const rows = 6;
      const y = labels(rows, 4, 9);
      const yT = ctx.tensor(y, [rows], 'i32');
      const r = await gradCheck(
        ctx,
        {
          inputs: [{ shape: [rows, 9] }],
          build: ([logits]) => F.crossEntropy(logits, yT, { col0: 3, classes: 4 }),
          reference: ([logits]) => [crossEntropyRef(logits, y, 4, { rows, ld: 9, col0: 3 })],
        },
        LOSS,
      );
      expect(r.worst).toBeLessThanOrEqual(1);
      const g = r.grads[0]!.gpu;
      for (let i = 0; i < g.length; i++) if (i % 9 < 3 || i % 9 >= 7) expect(g[i]).toBe(0);
      yT.dispose();
    });

    it('cross-entropy with every label missing is 0 with a zero gradient (not NaN)', async () => {
      const ctx = gpu();
      const yT = ctx.tensor(new Int32Array([-1, -1, -1]), [3], 'i32');
      const r = await gradCheck(
        ctx,
        {
          inputs: [{ shape: [3, 5] }],
          build: ([logits]) => F.crossEntropy(logits, yT),
          reference: () => [0],
        },
        LOSS,
      );
      expect(r.grads[0]!.gpu.every((v) => v === 0)).toBe(true);
      yT.dispose();
    });

    it.each([
      [0, 1],
      [0, 13],
      [0.5, 29],
      [2, 29],
    ])('regression (huber delta %d, 0 = MSE) on %i rows with missing targets masked', async (delta, rows) => {
      const ctx = gpu();
      const target = randomArray(rows, 5, 2);
      const mask = Float32Array.from({ length: rows }, (_, r) => (rows > 1 && r % 5 === 3 ? 0 : 1));
      // a missing target may be NaN: masked rows must not poison the loss
      const targetWithNaN = target.map((v, r) => (mask[r] === 0 ? NaN : v));
      const tT = ctx.tensor(targetWithNaN, [rows]);
      const mT = ctx.tensor(mask, [rows]);
      const r = await gradCheck(
        ctx,
        {
          inputs: [{ shape: [rows], scale: 3 }],
          build: ([pred]) => F.regression(pred, tT, { huberDelta: delta, mask: mT }),
          reference: ([pred]) => [regressionRef(pred, target, { rows, ld: 1 }, delta, mask)],
        },
        LOSS,
      );
      expect(r.worst).toBeLessThanOrEqual(1);
      expect(r.leaked).toBe(0);
      tT.dispose();
      mT.dispose();
    });

    it.each([
      [1, [0.5]],
      [17, [0.1, 0.5, 0.9]],
    ])('pinball loss on %i rows, quantiles %j', async (rows, taus) => {
      const ctx = gpu();
      const target = randomArray(rows, 8, 2);
      const tT = ctx.tensor(target, [rows]);
      const tauT = ctx.tensor(taus, [taus.length]);
      const r = await gradCheck(
        ctx,
        {
          inputs: [{ shape: [rows, taus.length], scale: 2 }],
          build: ([pred]) => F.pinball(pred, tT, tauT),
          reference: ([pred]) => [pinballRef(pred, target, taus, { rows, ld: taus.length })],
        },
        LOSS,
      );
      expect(r.worst).toBeLessThanOrEqual(1);
      tT.dispose();
      tauT.dispose();
    });

    it('fused heads: two classification heads, a Huber price and two quantiles on one output', async () => {
      const ctx = gpu();
      const rows = 9;
      // columns: colour (4 classes) | type (3 classes) | log price | price q0.1, q0.9
      const colour = labels(rows, 4, 4, 3);
      const type = labels(rows, 3, 5, 4);
      const price = randomArray(rows, 6, 2);
      const hasPrice = Float32Array.from({ length: rows }, (_, r) => (r === 2 ? 0 : 1));
      const classWeight = Float32Array.from([1, 2, 0.5]);
      const t = {
        colour: ctx.tensor(colour, [rows], 'i32'),
        type: ctx.tensor(type, [rows], 'i32'),
        price: ctx.tensor(price, [rows]),
        hasPrice: ctx.tensor(hasPrice, [rows]),
        classWeight: ctx.tensor(classWeight, [3]),
        taus: ctx.tensor([0.1, 0.9], [2]),
      };
      const r = await gradCheck(
        ctx,
        {
          inputs: [{ shape: [rows, 10], scale: 2 }],
          build: ([out]) =>
            F.headsLoss(out, [
              { kind: 'crossEntropy', name: 'colour', weight: 1, col0: 0, classes: 4, labels: t.colour },
              { kind: 'crossEntropy', name: 'type', weight: 0.5, col0: 4, classes: 3, labels: t.type, classWeight: t.classWeight },
              { kind: 'regression', name: 'price', weight: 2, col0: 7, target: t.price, mask: t.hasPrice, huberDelta: 1 },
              { kind: 'pinball', name: 'interval', weight: 0.7, col0: 8, target: t.price, taus: t.taus, mask: t.hasPrice },
            ]).total,
          reference: ([out]) => {
            const w = { rows, ld: 10 };
            return [
              crossEntropyRef(out, colour, 4, w) +
                0.5 * crossEntropyRef(out, type, 3, { ...w, col0: 4 }, { classWeight }) +
                2 * regressionRef(out, price, { ...w, col0: 7 }, 1, hasPrice) +
                0.7 * pinballRef(out, price, [0.1, 0.9], { ...w, col0: 8 }, hasPrice),
            ];
          },
        },
        LOSS,
      );
      expect(r.worst).toBeLessThanOrEqual(1);
      expect(r.leaked).toBe(0);
      for (const x of Object.values(t)) x.dispose();
    });
  });
});

describe.each([
  ['subgroups where available', {}],
  ['without subgroups', { disable: { subgroups: true } }],
])('row-kernel rules vs finite differences (%s)', (_name, options) => {
  const gpu = useGpu(options);
  // LayerNorm: gradients mix O(n) terms with rstd ~ 1/std; softmax: products of probabilities.
  const ROWS: Tolerance = { atol: 1e-4, rtol: 2e-3 };

  it.each([[2, 3], [5, 8], [3, 2, 12], [4, 7], [1, 1]])('layerNorm on %j (x, gamma and beta)', async (...shape) => {
    const n = shape[shape.length - 1];
    const r = await gradCheck(
      gpu(),
      {
        inputs: [{ shape, scale: 2 }, { shape: [n], data: randomArray(n, 5).map((v) => 1 + 0.5 * v) }, { shape: [n] }],
        build: ([x, g, b]) => F.layerNorm(x, g, b, 1e-5),
        reference: ([x, g, b]) => layerNormRef(x, n, g, b, 1e-5).y,
      },
      ROWS,
    );
    expect(r.worst).toBeLessThanOrEqual(1);
    expect(r.leaked).toBe(0);
  });

  it.each([[1, 1], [3, 5], [2, 8], [4, 3, 9]])('softmax on %j', async (...shape) => {
    const n = shape[shape.length - 1];
    const r = await gradCheck(
      gpu(),
      { inputs: [{ shape, scale: 3 }], build: ([x]) => F.softmax(x), reference: ([x]) => softmaxRef(x, n) },
      ROWS,
    );
    expect(r.worst).toBeLessThanOrEqual(1);
    expect(r.leaked).toBe(0);
  });

  // [batch, tq, tk (capacity), heads, headDim, causal, kvLength]
  const attentionCases: [number, number, number, number, number, boolean, number][] = [
    [2, 5, 5, 2, 4, true, 5],
    [1, 11, 11, 1, 8, true, 11], // more queries and keys than one workgroup of lanes
    [2, 3, 7, 1, 8, false, 7], // cross-attention
    [1, 1, 6, 2, 4, false, 6], // one query (the forward's decode kernel)
    [1, 3, 9, 1, 4, true, 6], // causal over a cache of capacity 9 with 6 valid rows (past = 3)
  ];
  it.each([[2, 5, 2, 4, true], [1, 7, 1, 8, false], [2, 3, 3, 4, true]])('attentionQkv (in place over a fused projection): batch %i, length %i, %i heads of %i, causal %s', async (batch, length, heads, headDim, causal) => {
    const dim = heads * headDim;
    const thirds = (x: Float64Array) => [0, 1, 2].map((i) => {
      const part = new Float64Array(batch * length * dim);
      for (let r = 0; r < batch * length; r++) for (let c = 0; c < dim; c++) part[r * dim + c] = x[r * 3 * dim + i * dim + c];
      return part;
    });
    const r = await gradCheck(
      gpu(),
      {
        inputs: [{ shape: [batch, length, 3 * dim] }],
        build: ([qkv]) => F.attentionQkv(qkv, { heads, causal }),
        reference: ([qkv]) => {
          const [q, k, v] = thirds(qkv);
          return attentionRef(q, k, v, { batch, tq: length, capacity: length, tk: length, heads, headDim, causal, past: 0, scale: 1 / Math.sqrt(headDim) });
        },
      },
      ROWS,
    );
    expect(r.worst).toBeLessThanOrEqual(1);
    expect(r.leaked).toBe(0);
  });

  it.each(attentionCases)('attention: batch %i, %i queries, %i keys, %i heads of %i, causal %s, kvLength %i', async (batch, tq, tk, heads, headDim, causal, kvLength) => {
    const dim = heads * headDim;
    const scale = 1 / Math.sqrt(headDim);
    const r = await gradCheck(
      gpu(),
      {
        inputs: [{ shape: [batch, tq, dim] }, { shape: [batch, tk, dim] }, { shape: [batch, tk, dim] }],
        build: ([q, k, v]) => F.attention(q, k, v, { heads, causal, kvLength }),
        reference: ([q, k, v]) => attentionRef(q, k, v, { batch, tq, capacity: tk, tk: kvLength, heads, headDim, causal, past: kvLength - tq, scale }),
      },
      ROWS,
    );
    expect(r.worst).toBeLessThanOrEqual(1);
    expect(r.leaked).toBe(0);
  });
});
