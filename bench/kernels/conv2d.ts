/**
 * conv2d at the model's stem shapes (3x3 stride-2 convolutions, then a patchify convolution) for
 * one image and a batch of 8, against tf.fused.conv2d. Both sides fuse bias + relu (tfjs has no
 * fused GELU, the model's activation). Shapes: "NxHxWxCin>Cout kK sS pP".
 */
import type { BenchCase } from '../harness.ts';
import { conv2d, convOutputSize } from '../../src/runtime/ops/conv2d.ts';
import { conv2dRef } from '../../src/reference/conv2d.ts';
import { maxRelErr, randomArray } from '../../src/reference/numeric.ts';
import { settleTfjs } from '../tfjs-peer.ts';

function conv2dCase(batch: number, height: number, width: number, cin: number, cout: number, k: number, stride: number, padding: number): BenchCase {
  const xShape = [batch, height, width, cin];
  const wShape = [cout, k, k, cin];
  const xData = randomArray(batch * height * width * cin, height + cin, 1);
  const wData = randomArray(cout * k * k * cin, cout + k, 0.5);
  const biasData = randomArray(cout, cout, 0.5);
  const outH = convOutputSize(height, k, stride, padding);
  const outW = convOutputSize(width, k, stride, padding);
  const opts = { stride, padding, activation: 'relu' as const };
  return {
    kernel: 'conv2d',
    shape: `${batch}x${height}x${width}x${cin}>${cout} k${k} s${stride} p${padding}`,
    flops: 2 * batch * outH * outW * cout * k * k * cin,
    async setup(ctx) {
      const x = ctx.tensor(xData, xShape);
      const w = ctx.tensor(wData, wShape);
      const bias = ctx.tensor(biasData, [cout]);
      const out = ctx.empty([batch, outH, outW, cout]);
      return {
        record(reps) {
          const rec = ctx.recorder(`bench-conv2d-${height}x${width}x${cin}`);
          for (let i = 0; i < reps; i++) conv2d(rec, x, w, { ...opts, bias, out });
          rec.submit();
        },
        async verify() {
          const want = conv2dRef(xData, xShape, wData, wShape, { ...opts, bias: biasData });
          return maxRelErr(await out.read(), want.data, 1e-4, 1e-4) <= 1;
        },
        dispose() {
          for (const t of [x, w, bias, out]) t.dispose();
        },
      };
    },
    async tfjs(tf) {
      const x = tf.tensor4d(xData, xShape as [number, number, number, number]);
      // tfjs filters are [kh, kw, Cin, Cout].
      const filter = tf.transpose(tf.tensor4d(wData, wShape as [number, number, number, number]), [1, 2, 3, 0]);
      const bias = tf.tensor1d(biasData);
      return {
        async run() {
          const y = tf.fused.conv2d({ x, filter, strides: stride, pad: padding, bias, activation: 'relu' });
          await settleTfjs(tf, y);
          y.dispose();
        },
        dispose() {
          for (const t of [x, filter, bias]) t.dispose();
        },
      };
    },
  };
}

export const cases: BenchCase[] = [1, 8].flatMap((batch) => [
  conv2dCase(batch, 96, 64, 3, 16, 3, 2, 1),
  conv2dCase(batch, 48, 32, 16, 32, 3, 2, 1),
  conv2dCase(batch, 24, 16, 32, 128, 2, 2, 0),
]);
