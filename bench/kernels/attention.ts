/**
 * Fused attention: causal prefill, cross-attention over image tokens, and decode steps reading a
 * 512-row KV cache at several positions. The tfjs peer is the usual composition (transpose,
 * batched matMul, mask add, softmax, matMul), which materialises the score matrix.
 */
import type { BenchCase } from '../harness.ts';
import { attention } from '../../src/runtime/ops/attention.ts';
import { attentionRef, type AttentionRefOptions } from '../../src/reference/attention.ts';
import { maxRelErr, randomArray } from '../../src/reference/numeric.ts';
import { settleTfjs } from '../tfjs-peer.ts';

type Shape = Omit<AttentionRefOptions, 'past' | 'scale'> & { label: string };

function attentionCase(s: Shape): BenchCase {
  const dim = s.heads * s.headDim;
  const past = s.causal ? s.tk - s.tq : 0;
  const qData = randomArray(s.batch * s.tq * dim, s.tq + s.tk, 1);
  const kData = randomArray(s.batch * s.capacity * dim, s.tk * 3, 1);
  const vData = randomArray(s.batch * s.capacity * dim, s.tk * 5, 1);
  let visiblePairs = 0;
  for (let i = 0; i < s.tq; i++) visiblePairs += s.causal ? Math.min(s.tk, past + i + 1) : s.tk;
  const scale = 1 / Math.sqrt(s.headDim);
  return {
    kernel: `attention-${s.label}`,
    shape: `B${s.batch} Tq${s.tq} Tk${s.tk} H${s.heads} Dh${s.headDim}${s.causal ? ' causal' : ''}`,
    flops: 4 * s.batch * s.heads * s.headDim * visiblePairs,
    async setup(ctx) {
      const q = ctx.tensor(qData, [s.batch, s.tq, dim]);
      const k = ctx.tensor(kData, [s.batch, s.capacity, dim]);
      const v = ctx.tensor(vData, [s.batch, s.capacity, dim]);
      const out = ctx.empty([s.batch, s.tq, dim]);
      return {
        record(reps) {
          const rec = ctx.recorder('bench-attention');
          for (let i = 0; i < reps; i++) attention(rec, q, k, v, { heads: s.heads, causal: s.causal, past, kvLength: s.tk, out });
          rec.submit();
        },
        async verify() {
          const want = attentionRef(qData, kData, vData, { ...s, past, scale });
          return maxRelErr(await out.read(), want, 3e-6, 1e-4) <= 1;
        },
        dispose() {
          for (const t of [q, k, v, out]) t.dispose();
        },
      };
    },
    async tfjs(tf) {
      const q = tf.tensor3d(qData, [s.batch, s.tq, dim]);
      const k = tf.tensor3d(kData, [s.batch, s.capacity, dim]);
      const v = tf.tensor3d(vData, [s.batch, s.capacity, dim]);
      const mask = s.causal
        ? tf.tensor2d(Float32Array.from({ length: s.tq * s.tk }, (_, e) => (e % s.tk <= past + Math.floor(e / s.tk) ? 0 : -1e9)), [s.tq, s.tk])
        : null;
      type Tensor3D = import('@tensorflow/tfjs-core').Tensor3D;
      /** [B, rows, H*Dh] -> [B*H, rows, Dh] */
      const heads = (t: Tensor3D, rows: number) =>
        tf.reshape(tf.transpose(tf.reshape(tf.slice(t, [0, 0, 0], [s.batch, rows, dim]), [s.batch, rows, s.heads, s.headDim]), [0, 2, 1, 3]), [s.batch * s.heads, rows, s.headDim]) as Tensor3D;
      return {
        async run() {
          const o = tf.tidy(() => {
            let scores = tf.mul(tf.matMul(heads(q, s.tq), heads(k, s.tk), false, true), scale);
            if (mask) scores = tf.add(scores, mask);
            const ctxv = tf.matMul(tf.softmax(scores), heads(v, s.tk));
            return tf.reshape(tf.transpose(tf.reshape(ctxv, [s.batch, s.heads, s.tq, s.headDim]), [0, 2, 1, 3]), [s.batch, s.tq, dim]);
          });
          await settleTfjs(tf, o);
          o.dispose();
        },
        dispose: () => tf.dispose(mask ? [q, k, v, mask] : [q, k, v]),
      };
    },
  };
}

const decode = (tk: number): Shape => ({ label: 'decode', batch: 1, tq: 1, capacity: 512, tk, heads: 8, headDim: 64, causal: true });

export const cases: BenchCase[] = [
  attentionCase({ label: 'prefill', batch: 1, tq: 64, capacity: 64, tk: 64, heads: 8, headDim: 64, causal: true }),
  attentionCase({ label: 'prefill', batch: 4, tq: 128, capacity: 128, tk: 128, heads: 4, headDim: 32, causal: true }),
  attentionCase({ label: 'cross', batch: 1, tq: 32, capacity: 196, tk: 196, heads: 8, headDim: 64, causal: false }),
  attentionCase(decode(16)),
  attentionCase(decode(128)),
  attentionCase(decode(512)),
];
