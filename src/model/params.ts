/**
 * Parameter names and shapes of the listing model, derived from the config and the catalogs'
 * head layouts. One backbone and one decoder are shared; each catalog has its own fused head.
 * Linear weights use the nn.Linear layout [out, in] (the K-major layout the matmul kernel reads
 * fastest). Conv weights are [Cout, kh, kw, Cin] for NHWC activations.
 */
import { tokenGrid, type ModelConfig } from './config.ts';

export interface ParamSpec {
  name: string;
  shape: number[];
  /** How a fresh parameter is initialised. */
  init: 'normal' | 'zeros' | 'ones';
  /** Standard deviation for 'normal'. */
  std?: number;
}

/** The fused head of one catalog: the attribute heads' classes then the price outputs. */
export interface HeadLayout {
  catalog: string;
  attributes: { name: string; values: string[] }[];
  /** Number of price outputs after the attribute classes (point estimate + two quantiles). */
  priceOutputs: number;
}

export function headWidth(h: HeadLayout): number {
  return h.attributes.reduce((s, a) => s + a.values.length, 0) + h.priceOutputs;
}

const linear = (name: string, outDim: number, inDim: number, bias = true): ParamSpec[] => [
  { name: `${name}.weight`, shape: [outDim, inDim], init: 'normal', std: 1 / Math.sqrt(inDim) },
  ...(bias ? [{ name: `${name}.bias`, shape: [outDim], init: 'zeros' as const }] : []),
];
const norm = (name: string, dim: number): ParamSpec[] => [
  { name: `${name}.gamma`, shape: [dim], init: 'ones' },
  { name: `${name}.beta`, shape: [dim], init: 'zeros' },
];

export function backboneParams(c: ModelConfig): ParamSpec[] {
  const b = c.backbone;
  const specs: ParamSpec[] = [];
  let cin = 3;
  b.stemChannels.forEach((cout, i) => {
    specs.push({ name: `backbone.stem.${i}.weight`, shape: [cout, 3, 3, cin], init: 'normal', std: Math.sqrt(2 / (9 * cin)) });
    specs.push({ name: `backbone.stem.${i}.bias`, shape: [cout], init: 'zeros' });
    cin = cout;
  });
  specs.push({ name: 'backbone.patch.weight', shape: [b.dim, b.patch, b.patch, cin], init: 'normal', std: 1 / Math.sqrt(b.patch * b.patch * cin) });
  specs.push({ name: 'backbone.patch.bias', shape: [b.dim], init: 'zeros' });
  specs.push({ name: 'backbone.pos', shape: [tokenGrid(b).tokens, b.dim], init: 'normal', std: 0.02 });
  for (let l = 0; l < b.layers; l++) {
    const p = `backbone.blocks.${l}`;
    specs.push(...norm(`${p}.ln1`, b.dim), ...linear(`${p}.attn.qkv`, 3 * b.dim, b.dim), ...linear(`${p}.attn.proj`, b.dim, b.dim));
    specs.push(...norm(`${p}.ln2`, b.dim), ...linear(`${p}.mlp.fc1`, b.mlpDim, b.dim), ...linear(`${p}.mlp.fc2`, b.dim, b.mlpDim));
  }
  specs.push(...norm('backbone.norm', b.dim));
  return specs;
}

export function headParams(c: ModelConfig, h: HeadLayout): ParamSpec[] {
  return linear(`heads.${h.catalog}`, headWidth(h), c.backbone.dim);
}

export function decoderParams(c: ModelConfig): ParamSpec[] {
  const d = c.decoder;
  const specs: ParamSpec[] = [
    { name: 'decoder.embed', shape: [d.vocabSize, d.dim], init: 'normal', std: 0.02 },
    { name: 'decoder.pos', shape: [d.maxLength, d.dim], init: 'normal', std: 0.02 },
    ...linear('decoder.memory', d.dim, c.backbone.dim),
  ];
  for (let l = 0; l < d.layers; l++) {
    const p = `decoder.blocks.${l}`;
    specs.push(...norm(`${p}.ln1`, d.dim), ...linear(`${p}.self.qkv`, 3 * d.dim, d.dim), ...linear(`${p}.self.proj`, d.dim, d.dim));
    specs.push(...norm(`${p}.ln2`, d.dim), ...linear(`${p}.cross.q`, d.dim, d.dim), ...linear(`${p}.cross.kv`, 2 * d.dim, d.dim), ...linear(`${p}.cross.proj`, d.dim, d.dim));
    specs.push(...norm(`${p}.ln3`, d.dim), ...linear(`${p}.mlp.fc1`, d.mlpDim, d.dim), ...linear(`${p}.mlp.fc2`, d.dim, d.mlpDim));
  }
  specs.push(...norm('decoder.norm', d.dim));
  return specs;
}

export function modelParams(c: ModelConfig, heads: HeadLayout[]): ParamSpec[] {
  return [...backboneParams(c), ...heads.flatMap((h) => headParams(c, h)), ...decoderParams(c)];
}

/** Deterministic initial values (Box-Muller over a seeded generator). */
export function initialValues(spec: ParamSpec, random: () => number): Float32Array {
  const n = spec.shape.reduce((p, d) => p * d, 1);
  const out = new Float32Array(n);
  if (spec.init === 'ones') out.fill(1);
  else if (spec.init === 'normal') {
    const std = spec.std ?? 0.02;
    for (let i = 0; i < n; i++) {
      const u = Math.max(random(), 1e-12);
      out[i] = std * Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * random());
    }
  }
  return out;
}
