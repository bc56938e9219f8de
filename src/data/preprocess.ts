/**
 * Image preprocessing for the model (browser-safe: works on pixel arrays, so the page can feed it
 * from a canvas and Node from decoded files).
 *
 *  1. `fitImage`: any RGB/RGBA image → a fixed-size RGB uint8 image, HWC, row-major
 *     (default 64 wide × 96 high, portrait like product photos). The aspect ratio is kept: the image
 *     is scaled to fit and centred, the rest is padded with the background colour (white by
 *     default; transparent pixels are composited onto it). Downscaling averages the covered area
 *     (box filter with fractional coverage, no aliasing); upscaling is bilinear. This uint8 image is
 *     what the tensor store keeps.
 *  2. `augmentImage` (training only): a horizontal flip, a small zoom and shift (the uncovered
 *     border takes the background colour), and brightness/contrast jitter applied identically to R,
 *     G and B so hue is kept and colour labels stay right. Deterministic for a given seed.
 *  3. `normaliseBatch`: uint8 images → float32 (v/255 − mean[c]) / std[c], NHWC or NCHW, at batch
 *     time.
 */
import { AtelierDataError } from './errors.ts';
import { seededRandom } from './random.ts';

/** Decoded pixels: row-major, `channels` bytes per pixel (RGB or RGBA). */
export interface PixelImage {
  width: number;
  height: number;
  channels: 3 | 4;
  data: Uint8Array | Uint8ClampedArray;
}

export type Rgb = [number, number, number];

export interface PreprocessConfig {
  /** Output width in pixels. */
  width: number;
  /** Output height in pixels. */
  height: number;
  /** Padding and transparency colour, 0–255 per channel. */
  background: Rgb;
}

export const DEFAULT_PREPROCESS: PreprocessConfig = { width: 64, height: 96, background: [255, 255, 255] };

/** Bytes of one preprocessed image (RGB). */
export function imageBytes(config: Pick<PreprocessConfig, 'width' | 'height'>): number {
  return config.width * config.height * 3;
}

export function checkPreprocessConfig(config: PreprocessConfig): void {
  const { width, height, background } = config;
  if (!(Number.isInteger(width) && Number.isInteger(height) && width >= 1 && height >= 1 && width <= 4096 && height <= 4096)) {
    throw new AtelierDataError('config', `image size must be whole pixels from 1 to 4096, got ${width}x${height}`);
  }
  if (background.length !== 3 || background.some((v) => !(Number.isInteger(v) && v >= 0 && v <= 255))) {
    throw new AtelierDataError('config', `background must be three integers 0-255, got ${JSON.stringify(background)}`);
  }
}

/** Resizes `image` to fit `config`'s size with its aspect ratio kept, centred on the background. */
export function fitImage(image: PixelImage, config: PreprocessConfig = DEFAULT_PREPROCESS, out?: Uint8Array): Uint8Array {
  const { width: W, height: H, background } = config;
  const { width: w, height: h, channels, data } = image;
  if (!(w >= 1 && h >= 1) || data.length < w * h * channels) {
    throw new AtelierDataError('image', `pixel buffer of ${data.length} bytes is too small for ${w}x${h}x${channels}`);
  }
  const result = out ?? new Uint8Array(W * H * 3);
  if (result.length !== W * H * 3) throw new AtelierDataError('config', `output buffer holds ${result.length} bytes, expected ${W * H * 3}`);

  const scale = Math.min(W / w, H / h);
  const cw = Math.min(W, Math.max(1, Math.round(w * scale)));
  const ch = Math.min(H, Math.max(1, Math.round(h * scale)));
  const x0 = (W - cw) >> 1;
  const y0 = (H - ch) >> 1;

  // RGBA is composited onto the background first (transparent pixels take the background colour).
  let source: Uint8Array | Uint8ClampedArray | Float32Array = data;
  if (channels === 4) {
    const rgb = new Float32Array(w * h * 3);
    for (let p = 0; p < w * h; p++) {
      const alpha = data[p * 4 + 3] / 255;
      for (let c = 0; c < 3; c++) rgb[p * 3 + c] = data[p * 4 + c] * alpha + background[c] * (1 - alpha);
    }
    source = rgb;
  }
  const xt = axisTaps(w, cw);
  const yt = axisTaps(h, ch);
  // Horizontal pass: h rows × cw columns.
  const rows = new Float32Array(h * cw * 3);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < cw; x++) {
      let r = 0;
      let g = 0;
      let b = 0;
      for (let t = xt.start[x], k = x * xt.stride, end = k + xt.count[x]; k < end; k++, t++) {
        const wgt = xt.weights[k];
        const s = (y * w + t) * 3;
        r += source[s] * wgt;
        g += source[s + 1] * wgt;
        b += source[s + 2] * wgt;
      }
      const o = (y * cw + x) * 3;
      rows[o] = r;
      rows[o + 1] = g;
      rows[o + 2] = b;
    }
  }
  // Fill the background, then the vertical pass writes the content (the clamped view rounds and clamps).
  for (let p = 0; p < W * H; p++) {
    result[p * 3] = background[0];
    result[p * 3 + 1] = background[1];
    result[p * 3 + 2] = background[2];
  }
  const clamped = new Uint8ClampedArray(result.buffer, result.byteOffset, result.length);
  for (let y = 0; y < ch; y++) {
    const o = ((y0 + y) * W + x0) * 3;
    for (let x = 0; x < cw * 3; x++) {
      let v = 0;
      for (let t = yt.start[y], k = y * yt.stride, end = k + yt.count[y]; k < end; k++, t++) v += rows[t * cw * 3 + x] * yt.weights[k];
      clamped[o + x] = v;
    }
  }
  return result;
}

/**
 * Resampling taps along one axis: output pixel i reads `count[i]` input pixels from `start[i]`
 * with `weights[i * stride ...]` summing to 1. Shrinking averages the input interval that the
 * output pixel covers (fractional coverage at its ends); growing is bilinear between pixel centres.
 */
interface AxisTaps {
  start: Int32Array;
  count: Int32Array;
  weights: Float32Array;
  stride: number;
}

/** Taps by "inSize>outSize": a catalog's images share a few sizes, so taps are computed once each. */
const tapCache = new Map<string, AxisTaps>();

function axisTaps(inSize: number, outSize: number): AxisTaps {
  const key = `${inSize}>${outSize}`;
  let taps = tapCache.get(key);
  if (!taps) {
    if (tapCache.size > 256) tapCache.clear();
    taps = computeAxisTaps(inSize, outSize);
    tapCache.set(key, taps);
  }
  return taps;
}

function computeAxisTaps(inSize: number, outSize: number): AxisTaps {
  const ratio = inSize / outSize;
  const stride = ratio > 1 ? Math.ceil(ratio) + 1 : 2;
  const start = new Int32Array(outSize);
  const count = new Int32Array(outSize);
  const weights = new Float32Array(outSize * stride);
  for (let i = 0; i < outSize; i++) {
    if (ratio > 1) {
      const lo = i * ratio;
      const hi = Math.min(inSize, (i + 1) * ratio);
      const first = Math.floor(lo);
      const last = Math.min(inSize - 1, Math.ceil(hi) - 1);
      start[i] = first;
      count[i] = last - first + 1;
      for (let j = first; j <= last; j++) weights[i * stride + j - first] = (Math.min(hi, j + 1) - Math.max(lo, j)) / (hi - lo);
    } else {
      const centre = Math.min(inSize - 1, Math.max(0, (i + 0.5) * ratio - 0.5));
      const left = Math.min(Math.floor(centre), Math.max(0, inSize - 2));
      const frac = centre - left;
      start[i] = left;
      count[i] = inSize > 1 ? 2 : 1;
      weights[i * stride] = inSize > 1 ? 1 - frac : 1;
      weights[i * stride + 1] = frac;
    }
  }
  return { start, count, weights, stride };
}

export interface AugmentConfig {
  /** Mirror left-right with probability 1/2. */
  flip: boolean;
  /** Zoom factor drawn from [1 − scale, 1 + scale] (e.g. 0.1). */
  scale: number;
  /** Shift drawn from ±shift of the width/height (e.g. 0.05). */
  shift: number;
  /** Brightness factor drawn from [1 − brightness, 1 + brightness], same for R, G, B. */
  brightness: number;
  /** Contrast factor around the image's mean level, drawn from [1 − contrast, 1 + contrast]. */
  contrast: number;
}

export const DEFAULT_AUGMENT: AugmentConfig = { flip: true, scale: 0.1, shift: 0.05, brightness: 0.15, contrast: 0.15 };

/**
 * A randomly flipped, zoomed, shifted and brightness/contrast-jittered copy of a preprocessed image
 * (HWC RGB of `config`'s size). The same `seed` always gives the same result; use a seed made from
 * the epoch and the item, e.g. `hashString(`${epoch}:${item.id}`)`, so batching order does not
 * matter. For a batch read from the tensor store, augment each image's subarray into an output
 * batch (`out`), then `normaliseBatch` the output.
 */
export function augmentImage(image: Uint8Array, config: PreprocessConfig, augment: AugmentConfig, seed: number, out?: Uint8Array): Uint8Array {
  const { width: W, height: H, background } = config;
  if (image.length !== W * H * 3) throw new AtelierDataError('config', `image holds ${image.length} bytes, expected ${W}x${H}x3`);
  const random = seededRandom(seed);
  const symmetric = (amount: number): number => (2 * random() - 1) * amount;
  const flip = augment.flip && random() < 0.5;
  const zoom = 1 + symmetric(augment.scale);
  const dx = symmetric(augment.shift) * W;
  const dy = symmetric(augment.shift) * H;
  const brightness = 1 + symmetric(augment.brightness);
  const contrast = 1 + symmetric(augment.contrast);

  let sum = 0;
  for (let i = 0; i < image.length; i++) sum += image[i];
  const mean = sum / image.length;
  // v' = ((v − mean) · contrast + mean) · brightness, the same affine map for every channel.
  const gain = contrast * brightness;
  const bias = mean * (1 - contrast) * brightness;

  const result = out ?? new Uint8Array(image.length);
  const clamped = new Uint8ClampedArray(result.buffer, result.byteOffset, result.length);
  for (let y = 0; y < H; y++) {
    const sy = (y + 0.5 - H / 2 - dy) / zoom + H / 2 - 0.5;
    for (let x = 0; x < W; x++) {
      const shifted = (x + 0.5 - W / 2 - dx) / zoom + W / 2 - 0.5;
      const sx = flip ? W - 1 - shifted : shifted;
      const o = (y * W + x) * 3;
      if (sx < -0.5 || sx > W - 0.5 || sy < -0.5 || sy > H - 0.5) {
        for (let c = 0; c < 3; c++) clamped[o + c] = background[c] * gain + bias;
        continue;
      }
      const x1 = Math.min(W - 1, Math.max(0, Math.floor(sx)));
      const y1 = Math.min(H - 1, Math.max(0, Math.floor(sy)));
      const x2 = Math.min(W - 1, x1 + 1);
      const y2 = Math.min(H - 1, y1 + 1);
      const fx = Math.min(1, Math.max(0, sx - x1));
      const fy = Math.min(1, Math.max(0, sy - y1));
      const a = (y1 * W + x1) * 3;
      const b = (y1 * W + x2) * 3;
      const c0 = (y2 * W + x1) * 3;
      const d = (y2 * W + x2) * 3;
      for (let c = 0; c < 3; c++) {
        const top = image[a + c] + (image[b + c] - image[a + c]) * fx;
        const bottom = image[c0 + c] + (image[d + c] - image[c0 + c]) * fx;
        clamped[o + c] = (top + (bottom - top) * fy) * gain + bias;
      }
    }
  }
  return result;
}

export interface NormaliseConfig {
  /** Per-channel mean, in 0–1 units. */
  mean: Rgb;
  /** Per-channel standard deviation, in 0–1 units. */
  std: Rgb;
  /** 'nhwc' keeps the stored order; 'nchw' puts each channel's plane together. */
  layout: 'nhwc' | 'nchw';
}

/** ImageNet's channel statistics: a neutral default; `channelStats` measures a catalog's own. */
export const DEFAULT_NORMALISE: NormaliseConfig = { mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225], layout: 'nhwc' };

/** `count` preprocessed images laid end to end (HWC RGB each) → float32 model input. */
export function normaliseBatch(batch: Uint8Array, count: number, config: Pick<PreprocessConfig, 'width' | 'height'>, norm: NormaliseConfig = DEFAULT_NORMALISE, out?: Float32Array): Float32Array {
  const pixels = config.width * config.height;
  const size = count * pixels * 3;
  if (batch.length < size) throw new AtelierDataError('config', `batch holds ${batch.length} bytes, expected ${count}x${config.width}x${config.height}x3`);
  if (norm.std.some((s) => !(s > 0))) throw new AtelierDataError('config', `normalisation std must be positive, got ${JSON.stringify(norm.std)}`);
  const result = out ?? new Float32Array(size);
  if (result.length < size) throw new AtelierDataError('config', `output holds ${result.length} floats, expected ${size}`);
  const lut = new Float32Array(256 * 3);
  for (let c = 0; c < 3; c++) for (let v = 0; v < 256; v++) lut[c * 256 + v] = (v / 255 - norm.mean[c]) / norm.std[c];
  if (norm.layout === 'nhwc') {
    for (let i = 0; i < size; i += 3) {
      result[i] = lut[batch[i]];
      result[i + 1] = lut[256 + batch[i + 1]];
      result[i + 2] = lut[512 + batch[i + 2]];
    }
  } else {
    for (let n = 0; n < count; n++) {
      const base = n * pixels * 3;
      for (let p = 0; p < pixels; p++) {
        for (let c = 0; c < 3; c++) result[base + c * pixels + p] = lut[c * 256 + batch[base + p * 3 + c]];
      }
    }
  }
  return result;
}

/** Per-channel mean and standard deviation (0–1 units) of preprocessed images laid end to end. */
export function channelStats(batch: Uint8Array): { mean: Rgb; std: Rgb } {
  const sum = [0, 0, 0];
  const sq = [0, 0, 0];
  for (let i = 0; i < batch.length; i += 3) {
    for (let c = 0; c < 3; c++) {
      const v = batch[i + c] / 255;
      sum[c] += v;
      sq[c] += v * v;
    }
  }
  const n = Math.max(1, batch.length / 3);
  const mean = sum.map((s) => s / n) as Rgb;
  const std = sq.map((s, c) => Math.sqrt(Math.max(s / n - mean[c] ** 2, 1e-12))) as Rgb;
  return { mean, std };
}
