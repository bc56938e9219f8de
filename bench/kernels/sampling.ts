/** Token choice over decoder-sized vocabularies: argmax, and top-k + top-p sampling (the slow path). */
import type { BenchCase } from '../harness.ts';
import { argmaxTokens, sampleTokens, type SampleOptions } from '../../src/runtime/ops/sampling.ts';
import { argmaxRef, sampleRef } from '../../src/reference/sampling.ts';
import { randomArray } from '../../src/reference/numeric.ts';
import { settleTfjs } from '../tfjs-peer.ts';

const SEED = 1234;

function samplingCase(rows: number, vocab: number, options: Pick<SampleOptions, 'temperature' | 'topK' | 'topP'> | 'argmax'): BenchCase {
  const data = randomArray(rows * vocab, vocab + rows, 6);
  const label = options === 'argmax' ? 'argmax' : `sample${options.topK ? ` top-k ${options.topK}` : ''}${options.topP ? ` top-p ${options.topP}` : ''}`;
  return {
    kernel: options === 'argmax' ? 'argmax' : 'sample',
    shape: `${rows}x${vocab} ${label}`,
    bytes: 4 * rows * vocab, // one read of the logits (sampling reads them several times)
    async setup(ctx) {
      const logits = ctx.tensor(data, [rows, vocab]);
      const tokens = ctx.empty([rows], 'u32');
      return {
        record(reps) {
          const rec = ctx.recorder('bench-sampling');
          for (let i = 0; i < reps; i++) {
            if (options === 'argmax') argmaxTokens(rec, logits, { out: tokens });
            else sampleTokens(rec, logits, { ...options, seed: SEED, out: tokens });
          }
          rec.submit();
        },
        async verify() {
          const got = Array.from(await tokens.read());
          const want = options === 'argmax' ? Array.from(argmaxRef(data, vocab)) : sampleRef(data, vocab, { ...options, seed: SEED }).map((r) => r.token);
          return got.every((t, i) => t === want[i]);
        },
        dispose() {
          logits.dispose();
          tokens.dispose();
        },
      };
    },
    // tfjs has argMax; its multinomial has no top-k/top-p, so sampling has no peer.
    tfjs:
      options === 'argmax'
        ? async (tf) => {
            const x = tf.tensor2d(data, [rows, vocab]);
            return {
              async run() {
                const y = tf.argMax(x, 1);
                await settleTfjs(tf, y);
                y.dispose();
              },
              dispose: () => x.dispose(),
            };
          }
        : undefined,
  };
}

export const cases: BenchCase[] = [
  samplingCase(1, 8192, 'argmax'),
  samplingCase(16, 4096, 'argmax'),
  samplingCase(1, 8192, { temperature: 0.8, topK: 40, topP: 0.9 }),
  samplingCase(1, 8192, { temperature: 1, topP: 0.95 }),
  samplingCase(8, 32000, { temperature: 0.8, topK: 40, topP: 0.9 }),
];
