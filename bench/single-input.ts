/**
 * The common shape of a benchmark case with one input tensor and one output: upload the input,
 * record the op `reps` times into one recorder, check the output against the CPU reference, and
 * time the same computation in tfjs. Used by bench/kernels/<family>.ts.
 */
import type { Recorder } from '../src/runtime/recorder.ts';
import type { Tensor } from '../src/runtime/tensor.ts';
import { maxRelErr } from '../src/reference/numeric.ts';
import type { BenchCase } from './harness.ts';
import { settleTfjs } from './tfjs-peer.ts';

type Tf = typeof import('@tensorflow/tfjs-core');
type TfTensor = import('@tensorflow/tfjs-core').Tensor;

export interface SingleInputCase {
  kernel: string;
  shape: string;
  bytes: number;
  /** Input data and its shape. */
  data: Float32Array;
  inShape: number[];
  outShape: number[];
  /** Record the op once, writing into `out`. */
  run(rec: Recorder, x: Tensor, out: Tensor): void;
  /** True when the output matches the CPU reference. */
  check(got: ArrayLike<number>): boolean;
  /** The same computation in tfjs on the same input. */
  tfjsOp(tf: Tf, x: TfTensor): TfTensor;
}

export function singleInputCase(c: SingleInputCase): BenchCase {
  return {
    kernel: c.kernel,
    shape: c.shape,
    bytes: c.bytes,
    async setup(ctx) {
      const x = ctx.tensor(c.data, c.inShape);
      const y = ctx.empty(c.outShape);
      return {
        record(reps) {
          const rec = ctx.recorder(`bench-${c.kernel}`);
          for (let i = 0; i < reps; i++) c.run(rec, x, y);
          rec.submit();
        },
        async verify() {
          return c.check(await y.read());
        },
        dispose() {
          x.dispose();
          y.dispose();
        },
      };
    },
    async tfjs(tf) {
      const x = tf.tensor(c.data, c.inShape);
      return {
        async run() {
          const y = c.tfjsOp(tf, x);
          await settleTfjs(tf, y);
          y.dispose();
        },
        dispose: () => x.dispose(),
      };
    },
  };
}

/** check() for a float reference within the kernel's tolerance. */
export const within = (want: ArrayLike<number>, atol: number, rtol: number) => (got: ArrayLike<number>) => maxRelErr(got, want, atol, rtol) <= 1;
