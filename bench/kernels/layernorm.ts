/**
 * LayerNorm at encoder/decoder shapes, against the tf.moments composition a tfjs user would write
 * (tfjs has no fused layer norm).
 */
import type { BenchCase } from '../harness.ts';
import { layerNorm } from '../../src/runtime/ops/layernorm.ts';
import { layerNormRef } from '../../src/reference/layernorm.ts';
import { maxRelErr, randomArray } from '../../src/reference/numeric.ts';
import { settleTfjs } from '../tfjs-peer.ts';

const EPS = 1e-5;

function layerNormCase(rows: number, n: number): BenchCase {
  const data = randomArray(rows * n, rows * 7 + n, 3);
  const gammaData = randomArray(n, n, 1);
  const betaData = randomArray(n, n + 1, 1);
  return {
    kernel: 'layernorm',
    shape: `${rows}x${n}`,
    bytes: 2 * 4 * rows * n,
    async setup(ctx) {
      const x = ctx.tensor(data, [rows, n]);
      const gamma = ctx.tensor(gammaData, [n]);
      const beta = ctx.tensor(betaData, [n]);
      const y = ctx.empty([rows, n]);
      return {
        record(reps) {
          const rec = ctx.recorder('bench-layernorm');
          for (let i = 0; i < reps; i++) layerNorm(rec, x, gamma, beta, { eps: EPS, out: y });
          rec.submit();
        },
        async verify() {
          return maxRelErr(await y.read(), layerNormRef(data, n, gammaData, betaData, EPS).y, 2e-5, 1e-4) <= 1;
        },
        dispose() {
          for (const t of [x, gamma, beta, y]) t.dispose();
        },
      };
    },
    async tfjs(tf) {
      const x = tf.tensor2d(data, [rows, n]);
      const gamma = tf.tensor1d(gammaData);
      const beta = tf.tensor1d(betaData);
      return {
        async run() {
          const y = tf.tidy(() => {
            const { mean, variance } = tf.moments(x, -1, true);
            return tf.add(tf.mul(tf.div(tf.sub(x, mean), tf.sqrt(tf.add(variance, EPS))), gamma), beta);
          });
          await settleTfjs(tf, y);
          y.dispose();
        },
        dispose: () => tf.dispose([x, gamma, beta]),
      };
    },
  };
}

export const cases: BenchCase[] = [layerNormCase(1024, 768), layerNormCase(197, 384), layerNormCase(64, 256)];
