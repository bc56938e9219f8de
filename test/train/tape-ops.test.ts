import { describe, expect, it } from 'vitest';
import { validateConfig, type ModelConfig } from '../../src/model/config.ts';
import { backboneForward, headLogits } from '../../src/model/graph.ts';
import { backboneParams, headParams } from '../../src/model/params.ts';
import { host, referenceOps, type HostTensor } from '../../src/reference/model-ops.ts';
import { maxRelErr, randomArray } from '../../src/reference/numeric.ts';
import { Parameter, Tape } from '../../src/train/autograd.ts';
import { tapeOps } from '../../src/train/tape-ops.ts';
import { useGpu } from '../helpers/gpu.ts';

/**
 * The model's own graph (src/model/graph.ts) run through tapeOps: the backbone (stem convs,
 * patchify, position add, an encoder block, final norm, mean over tokens) and a fused head. GPU
 * gradients of every parameter tensor, at a few elements each, against central differences of the
 * same graph evaluated by the float64 reference ops.
 */
const config: ModelConfig = validateConfig({
  name: 'micro',
  backbone: { imageWidth: 8, imageHeight: 8, stemChannels: [4], patch: 2, dim: 8, layers: 1, heads: 2, mlpDim: 12 },
  decoder: { dim: 8, layers: 1, heads: 2, mlpDim: 12, maxLength: 8, vocabSize: 10 },
  priceQuantiles: [0.1, 0.9],
  layerNormEps: 1e-5,
});
const head = { catalog: 'shop', attributes: [{ name: 'colour', values: ['red', 'blue', 'green'] }], priceOutputs: 3 };
const specs = [...backboneParams(config), ...headParams(config, head)];
const BATCH = 2;
const IMAGE = [BATCH, config.backbone.imageHeight, config.backbone.imageWidth, 3];
const SAMPLES_PER_TENSOR = 5;

describe('the model graph through tapeOps', () => {
  const gpu = useGpu();

  it('backbone + heads: gradients of every parameter tensor match finite differences of the float64 graph', async () => {
    const ctx = gpu();
    const values = new Map(specs.map((s, i) => {
      const n = s.shape.reduce((p, d) => p * d, 1);
      return [s.name, s.init === 'ones' ? randomArray(n, i + 1).map((v) => 1 + 0.2 * v) : randomArray(n, i + 1, 0.5)];
    }));
    const images = randomArray(IMAGE.reduce((p, d) => p * d, 1), 99);
    const params = new Map(specs.map((s) => [s.name, new Parameter(s.name, ctx.tensor(values.get(s.name)!, s.shape))]));
    const imagesT = ctx.tensor(images, IMAGE);

    const rec = ctx.recorder('model-step');
    const tape = new Tape(rec);
    const w = (name: string) => tape.param(params.get(name)!);
    const logits = headLogits(tapeOps, w, head.catalog, backboneForward(tapeOps, w, config, tape.constant(imagesT)).pooled);
    const seed = randomArray(logits.value.size, 5);
    const seedT = ctx.tensor(seed, [seed.length]);
    tape.backward(logits, seedT);
    tape.dispose();
    rec.submit();

    const ref64 = new Map([...values].map(([name, v]) => [name, Float64Array.from(v)]));
    const shapes = new Map(specs.map((s) => [s.name, s.shape]));
    const refOps = referenceOps(new Map());
    const images64 = host(IMAGE, images);
    const objective = () => {
      const wr = (name: string): HostTensor => ({ shape: shapes.get(name)!, data: ref64.get(name)! });
      const out = headLogits(refOps, wr, head.catalog, backboneForward(refOps, wr, config, images64).pooled).data;
      return out.reduce((s, v, i) => s + v * seed[i], 0);
    };
    for (const s of specs) {
      const got = (await params.get(s.name)!.grad!.read()) as Float32Array;
      const x = ref64.get(s.name)!;
      const picks = Array.from({ length: Math.min(SAMPLES_PER_TENSOR, x.length) }, (_, j) => Math.floor((j * x.length) / SAMPLES_PER_TENSOR));
      const fd = picks.map((j) => {
        const keep = x[j];
        x[j] = keep + 1e-4;
        const up = objective();
        x[j] = keep - 1e-4;
        const down = objective();
        x[j] = keep;
        return (up - down) / 2e-4;
      });
      expect(maxRelErr(picks.map((j) => got[j]), fd, 1e-4, 1e-3), s.name).toBeLessThanOrEqual(1);
    }
    for (const p of params.values()) {
      p.zeroGrad();
      p.value.dispose();
    }
    imagesT.dispose();
    seedT.dispose();
  });
});
