/**
 * Model configuration: the shared vision backbone, the fused heads and the listing decoder.
 * Presets: `tiny` (trains and runs on a 2-core CPU through lavapipe), `small` and `base` (real GPUs).
 *
 * Backbone: a convolutional stem (stride-2 3x3 convs) brings the image to 1/4 resolution, a
 * patchify conv (patch x patch, stride patch) turns it into tokens, then pre-LN transformer encoder
 * blocks. Outputs: patch tokens (the decoder cross-attends to all of them) and their mean (the
 * pooled embedding the heads read).
 * Decoder: pre-LN transformer decoder blocks (causal self-attention, cross-attention to the image
 * tokens, MLP) over the prompt + generated tokens, with tied input/output embeddings.
 */
export interface BackboneConfig {
  /** Input image width and height in pixels (the preprocessing pads to this). */
  imageWidth: number;
  imageHeight: number;
  /** Output channels of each stride-2 3x3 stem conv. */
  stemChannels: number[];
  /** Patch size of the patchify conv applied after the stem. */
  patch: number;
  dim: number;
  layers: number;
  heads: number;
  mlpDim: number;
}

export interface DecoderConfig {
  dim: number;
  layers: number;
  heads: number;
  mlpDim: number;
  /** Maximum tokens held in the KV cache (prompt + generated). */
  maxLength: number;
  /** Tokenizer vocabulary size (embedding rows). */
  vocabSize: number;
}

export interface ModelConfig {
  name: string;
  backbone: BackboneConfig;
  decoder: DecoderConfig;
  /** Price head outputs: a point estimate and the lower/upper quantiles of the interval. */
  priceQuantiles: [number, number];
  layerNormEps: number;
}

export const PRESETS: Record<'tiny' | 'small' | 'base', Omit<ModelConfig, 'decoder'> & { decoder: Omit<DecoderConfig, 'vocabSize'> }> = {
  tiny: {
    name: 'tiny',
    backbone: { imageWidth: 64, imageHeight: 96, stemChannels: [16, 32], patch: 2, dim: 128, layers: 4, heads: 4, mlpDim: 512 },
    decoder: { dim: 128, layers: 3, heads: 4, mlpDim: 512, maxLength: 192 },
    priceQuantiles: [0.1, 0.9],
    layerNormEps: 1e-5,
  },
  small: {
    name: 'small',
    backbone: { imageWidth: 128, imageHeight: 192, stemChannels: [32, 64], patch: 4, dim: 384, layers: 8, heads: 6, mlpDim: 1536 },
    decoder: { dim: 384, layers: 6, heads: 6, mlpDim: 1536, maxLength: 256 },
    priceQuantiles: [0.1, 0.9],
    layerNormEps: 1e-5,
  },
  base: {
    name: 'base',
    backbone: { imageWidth: 128, imageHeight: 192, stemChannels: [32, 64], patch: 2, dim: 768, layers: 12, heads: 12, mlpDim: 3072 },
    decoder: { dim: 512, layers: 8, heads: 8, mlpDim: 2048, maxLength: 256 },
    priceQuantiles: [0.1, 0.9],
    layerNormEps: 1e-6,
  },
};

export function presetConfig(name: string, vocabSize: number): ModelConfig {
  const preset = PRESETS[name as keyof typeof PRESETS];
  if (!preset) throw new Error(`unknown model config '${name}' (known: ${Object.keys(PRESETS).join(', ')})`);
  return validateConfig({ ...preset, decoder: { ...preset.decoder, vocabSize } });
}

/** Token grid of the backbone: the stem halves the image once per stem conv, then the patch conv. */
export function tokenGrid(b: BackboneConfig): { width: number; height: number; tokens: number } {
  let w = b.imageWidth;
  let h = b.imageHeight;
  for (let i = 0; i < b.stemChannels.length; i++) {
    w = Math.floor((w - 1) / 2) + 1; // 3x3, stride 2, padding 1
    h = Math.floor((h - 1) / 2) + 1;
  }
  const width = Math.floor(w / b.patch);
  const height = Math.floor(h / b.patch);
  return { width, height, tokens: width * height };
}

export function validateConfig(c: ModelConfig): ModelConfig {
  const problems: string[] = [];
  const b = c.backbone;
  const d = c.decoder;
  if (b.dim % b.heads !== 0) problems.push(`backbone.dim ${b.dim} is not divisible by backbone.heads ${b.heads}`);
  if (d.dim % d.heads !== 0) problems.push(`decoder.dim ${d.dim} is not divisible by decoder.heads ${d.heads}`);
  if (tokenGrid(b).tokens < 1) problems.push('the image is too small for the stem and patch size');
  for (const [k, v] of Object.entries({ ...b, stemChannels: undefined, ...d })) {
    if (typeof v === 'number' && (!Number.isInteger(v) || v <= 0)) problems.push(`${k} must be a positive integer, got ${v}`);
  }
  const [lo, hi] = c.priceQuantiles;
  if (!(lo > 0 && lo < 0.5 && hi > 0.5 && hi < 1)) problems.push(`priceQuantiles must be (lo < 0.5 < hi), got [${lo}, ${hi}]`);
  if (problems.length) throw new Error(`invalid model config '${c.name}': ${problems.join('; ')}`);
  return c;
}
