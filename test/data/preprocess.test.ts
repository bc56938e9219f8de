import { describe, expect, it } from 'vitest';
import { augmentImage, channelStats, DEFAULT_PREPROCESS, fitImage, normaliseBatch, type AugmentConfig, type PixelImage, type PreprocessConfig } from '../../src/data/preprocess.ts';
import { seededRandom } from '../../src/data/random.ts';

function randomImage(width: number, height: number, channels: 3 | 4, seed: number): PixelImage {
  const random = seededRandom(seed);
  return { width, height, channels, data: Uint8Array.from({ length: width * height * channels }, () => Math.floor(random() * 256)) };
}

/** Float64 weight of input pixel j for output pixel i along one axis (area when shrinking, tent when growing). */
function referenceWeight(inSize: number, outSize: number, i: number, j: number): number {
  const ratio = inSize / outSize;
  if (ratio > 1) {
    const lo = i * ratio;
    const hi = (i + 1) * ratio;
    return Math.max(0, Math.min(hi, j + 1) - Math.max(lo, j)) / ratio;
  }
  const centre = Math.min(inSize - 1, Math.max(0, (i + 0.5) * ratio - 0.5));
  return Math.max(0, 1 - Math.abs(centre - j));
}

/** Reference fit: the same placement rule, pixels computed in float64 straight from the 2D weights. */
function referenceFit(image: PixelImage, config: PreprocessConfig): Float64Array {
  const { width: W, height: H, background } = config;
  const { width: w, height: h, channels, data } = image;
  const scale = Math.min(W / w, H / h);
  const cw = Math.min(W, Math.max(1, Math.round(w * scale)));
  const ch = Math.min(H, Math.max(1, Math.round(h * scale)));
  const x0 = Math.floor((W - cw) / 2);
  const y0 = Math.floor((H - ch) / 2);
  const out = new Float64Array(W * H * 3);
  for (let p = 0; p < W * H; p++) out.set(background, p * 3);
  for (let y = 0; y < ch; y++) {
    for (let x = 0; x < cw; x++) {
      const acc = [0, 0, 0];
      for (let sy = 0; sy < h; sy++) {
        const wy = referenceWeight(h, ch, y, sy);
        if (!wy) continue;
        for (let sx = 0; sx < w; sx++) {
          const wx = referenceWeight(w, cw, x, sx);
          if (!wx) continue;
          const s = (sy * w + sx) * channels;
          const alpha = channels === 4 ? data[s + 3] / 255 : 1;
          for (let c = 0; c < 3; c++) acc[c] += wx * wy * (data[s + c] * alpha + background[c] * (1 - alpha));
        }
      }
      out.set(acc, ((y0 + y) * W + x0 + x) * 3);
    }
  }
  return out;
}

describe('fitImage', () => {
  // Shrinking both ways (awkward ratios), exact halving (H&M 128×192), growing (Myntra 60×80),
  // growing a lot, a 1-pixel image, a very wide and a very tall image, and RGBA with transparency.
  it.each([
    [37, 53, 3],
    [128, 192, 3],
    [60, 80, 3],
    [5, 7, 3],
    [1, 1, 3],
    [300, 9, 3],
    [3, 250, 4],
    [45, 70, 4],
  ] as const)('%ix%i (%i channels) matches the float64 reference within rounding', (w, h, channels) => {
    const image = randomImage(w, h, channels, w * 1000 + h);
    const got = fitImage(image);
    const want = referenceFit(image, DEFAULT_PREPROCESS);
    let worst = 0;
    for (let i = 0; i < want.length; i++) worst = Math.max(worst, Math.abs(got[i] - want[i]));
    // uint8 rounding (0.5) plus float32 accumulation.
    expect(worst).toBeLessThanOrEqual(0.51);
  });

  it('keeps the aspect ratio: a wide image is centred between background bands', () => {
    const image: PixelImage = { width: 40, height: 20, channels: 3, data: new Uint8Array(40 * 20 * 3).fill(10) };
    const out = fitImage(image, { width: 64, height: 96, background: [200, 100, 50] });
    // 40×20 scales by 1.6 to 64×32, placed at rows 32..63.
    for (const y of [0, 31, 64, 95]) expect([...out.subarray(y * 64 * 3, y * 64 * 3 + 3)]).toEqual([200, 100, 50]);
    for (const y of [32, 48, 63]) expect([...out.subarray((y * 64 + 5) * 3, (y * 64 + 5) * 3 + 3)]).toEqual([10, 10, 10]);
  });

  it('composites transparency onto the background', () => {
    const data = new Uint8Array([0, 0, 0, 0, 0, 0, 0, 255, 255, 0, 0, 128, 255, 0, 0, 128]);
    const out = fitImage({ width: 2, height: 2, channels: 4, data }, { width: 2, height: 2, background: [255, 255, 255] });
    expect([...out]).toEqual([255, 255, 255, 0, 0, 0, 255, 127, 127, 255, 127, 127]);
  });

  it('rejects bad sizes and short buffers', () => {
    expect(() => fitImage({ width: 4, height: 4, channels: 3, data: new Uint8Array(10) })).toThrow(/too small for 4x4x3/);
    expect(() => fitImage(randomImage(4, 4, 3, 1), DEFAULT_PREPROCESS, new Uint8Array(5))).toThrow(/expected 18432/);
  });
});

describe('augmentImage', () => {
  const config: PreprocessConfig = { width: 12, height: 18, background: [255, 255, 255] };
  const image = fitImage(randomImage(12, 18, 3, 5), config);
  const none: AugmentConfig = { flip: false, scale: 0, shift: 0, brightness: 0, contrast: 0 };

  it('with nothing enabled returns the image unchanged', () => {
    expect([...augmentImage(image, config, none, 123)]).toEqual([...image]);
  });

  it('flips exactly, for about half of the seeds', () => {
    let flipped = 0;
    for (let seed = 0; seed < 40; seed++) {
      const out = augmentImage(image, config, { ...none, flip: true }, seed);
      const mirrored = out.every((v, i) => {
        const p = (i / 3) | 0;
        const x = p % 12;
        const y = (p / 12) | 0;
        return v === image[(y * 12 + 11 - x) * 3 + (i % 3)];
      });
      if (mirrored) flipped++;
      else expect([...out]).toEqual([...image]);
    }
    expect(flipped).toBeGreaterThan(10);
    expect(flipped).toBeLessThan(30);
  });

  it('is deterministic for a seed and varies across seeds', () => {
    const aug: AugmentConfig = { flip: true, scale: 0.1, shift: 0.05, brightness: 0.2, contrast: 0.2 };
    expect([...augmentImage(image, config, aug, 9)]).toEqual([...augmentImage(image, config, aug, 9)]);
    expect([...augmentImage(image, config, aug, 9)]).not.toEqual([...augmentImage(image, config, aug, 10)]);
  });

  it('brightness/contrast jitter keeps every unclipped pixel’s hue', () => {
    const colourful = fitImage(randomImage(12, 18, 3, 77), config);
    const hue = (r: number, g: number, b: number) => Math.atan2(Math.sqrt(3) * (g - b), 2 * r - g - b);
    for (let seed = 0; seed < 10; seed++) {
      const out = augmentImage(colourful, config, { ...none, brightness: 0.2, contrast: 0.2 }, seed);
      for (let p = 0; p < 12 * 18; p++) {
        const [r, g, b] = colourful.subarray(p * 3, p * 3 + 3);
        const [r2, g2, b2] = out.subarray(p * 3, p * 3 + 3);
        const chroma = Math.max(r, g, b) - Math.min(r, g, b);
        const chroma2 = Math.max(r2, g2, b2) - Math.min(r2, g2, b2);
        if (chroma < 40 || chroma2 < 40 || [r2, g2, b2].some((v) => v === 0 || v === 255)) continue;
        const d = Math.abs(hue(r, g, b) - hue(r2, g2, b2));
        // Rounding to uint8 moves the hue of a pixel with chroma ≥ 40 by a few hundredths of a radian at most.
        expect(Math.min(d, 2 * Math.PI - d)).toBeLessThan(0.06);
      }
    }
  });

  it('zoom and shift stay small: the centre pixel stays near its neighbourhood', () => {
    const smooth = fitImage({ width: 3, height: 3, channels: 3, data: Uint8Array.from({ length: 27 }, (_, i) => i * 9) }, config);
    const out = augmentImage(smooth, config, { ...none, scale: 0.1, shift: 0.05 }, 3);
    const centre = (9 * 12 + 6) * 3;
    expect(Math.abs(out[centre] - smooth[centre])).toBeLessThan(40);
  });
});

describe('normaliseBatch and channelStats', () => {
  const size = { width: 2, height: 1 };
  // Two images of two pixels each.
  const batch = new Uint8Array([0, 51, 255, 255, 0, 102, 10, 20, 30, 40, 50, 60]);
  const norm = { mean: [0.5, 0.4, 0.3], std: [0.5, 0.2, 0.25] } as const;
  const expected = (v: number, c: number) => (v / 255 - norm.mean[c]) / norm.std[c];

  it('NHWC keeps the stored order', () => {
    const out = normaliseBatch(batch, 2, size, { mean: [...norm.mean], std: [...norm.std], layout: 'nhwc' });
    batch.forEach((v, i) => expect(out[i]).toBeCloseTo(expected(v, i % 3), 6));
  });

  it('NCHW gathers each channel plane', () => {
    const out = normaliseBatch(batch, 2, size, { mean: [...norm.mean], std: [...norm.std], layout: 'nchw' });
    for (let n = 0; n < 2; n++) for (let c = 0; c < 3; c++) for (let p = 0; p < 2; p++) expect(out[n * 6 + c * 2 + p]).toBeCloseTo(expected(batch[n * 6 + p * 3 + c], c), 6);
  });

  it('rejects a short batch and a zero std', () => {
    expect(() => normaliseBatch(batch, 3, size)).toThrow(/expected 3x2x1x3/);
    expect(() => normaliseBatch(batch, 2, size, { mean: [0, 0, 0], std: [1, 0, 1], layout: 'nhwc' })).toThrow(/std must be positive/);
  });

  it('channelStats measures per-channel mean and std', () => {
    const stats = channelStats(new Uint8Array([0, 255, 51, 255, 255, 51]));
    expect(stats.mean.map((m) => Number(m.toFixed(4)))).toEqual([0.5, 1, 0.2]);
    expect(stats.std[0]).toBeCloseTo(0.5, 6);
    expect(stats.std[1]).toBeLessThan(1e-5);
  });
});
