import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { deflateSync } from 'node:zlib';
import { PNG } from 'pngjs';
import { describe, expect, it } from 'vitest';
import { AtelierDataError } from '../../src/data/errors.ts';
import type { PixelImage } from '../../src/data/preprocess.ts';
import { decodeImage, decodeImageFile, probeImage, probeImageFile } from '../../src/node/image.ts';
import { concatBytes, encodeBaselineJpeg, patternRgb, pngChunk, pngIhdr, PNG_SIGNATURE, rgbToYcbcrPlanes, tempDir, writeJpeg, writePng } from './fixtures.ts';

// Tolerance for JPEG round trips: our fixtures quantise by 1, so only DCT rounding and the YCbCr
// conversion (both ways) separate decoded from original pixels.
const JPEG_TOLERANCE = 4;

function maxDiff(image: PixelImage, rgb: Uint8Array): number {
  let worst = 0;
  for (let p = 0; p < image.width * image.height; p++) {
    for (let c = 0; c < 3; c++) worst = Math.max(worst, Math.abs(image.data[p * image.channels + c] - rgb[p * 3 + c]));
  }
  return worst;
}

const grey = (w: number, h: number) => Uint8Array.from({ length: w * h }, (_, p) => (p * 37 + ((p / w) | 0) * 11) % 256);

describe('JPEG decoding', () => {
  // 13×11 and 21×9: not multiples of the 8×8 block size.
  it.each([
    [13, 11],
    [21, 9],
    [1, 1],
  ])('baseline colour %ix%i from the jpeg-js encoder', (w, h) => {
    const rgb = patternRgb(w, h);
    const image = decodeImage(encodeBaselineJpeg(w, h, rgb, 100));
    expect([image.width, image.height, image.channels]).toEqual([w, h, 3]);
    // jpeg-js subsamples nothing but quantises at quality 100 with a table of mostly 1s and 2s.
    expect(maxDiff(image, rgb)).toBeLessThanOrEqual(12);
  });

  for (const progressive of [false, true]) {
    const kind = progressive ? 'progressive' : 'baseline';
    it(`${kind} greyscale`, () => {
      const plane = grey(13, 11);
      const image = decodeImage(writeJpeg({ width: 13, height: 11, planes: [plane], progressive }));
      const rgb = Uint8Array.from({ length: 13 * 11 * 3 }, (_, i) => plane[(i / 3) | 0]);
      expect(maxDiff(image, rgb)).toBeLessThanOrEqual(2);
    });

    it(`${kind} YCbCr colour`, () => {
      const rgb = patternRgb(19, 10);
      const image = decodeImage(writeJpeg({ width: 19, height: 10, planes: rgbToYcbcrPlanes(19, 10, rgb), progressive }));
      expect(maxDiff(image, rgb)).toBeLessThanOrEqual(JPEG_TOLERANCE);
    });

    it(`${kind} Adobe CMYK (inverted, as Photoshop writes it)`, () => {
      const [w, h] = [9, 12];
      const cmyk = [0, 1, 2, 3].map((c) => Uint8Array.from({ length: w * h }, (_, p) => (p * (c + 3) * 7 + c * 50) % 256));
      const stored = cmyk.map((plane) => plane.map((v) => 255 - v));
      const image = decodeImage(writeJpeg({ width: w, height: h, planes: stored, progressive, adobeTransform: 0 }));
      const rgb = new Uint8Array(w * h * 3);
      for (let p = 0; p < w * h; p++) for (let c = 0; c < 3; c++) rgb[p * 3 + c] = Math.round(((255 - cmyk[c][p]) * (255 - cmyk[3][p])) / 255);
      expect(maxDiff(image, rgb)).toBeLessThanOrEqual(JPEG_TOLERANCE);
    });
  }

  it('RGB-coded JPEG with an Adobe marker (no colour transform)', () => {
    const rgb = patternRgb(10, 10);
    const planes = [0, 1, 2].map((c) => Uint8Array.from({ length: 100 }, (_, p) => rgb[p * 3 + c]));
    const image = decodeImage(writeJpeg({ width: 10, height: 10, planes, adobeTransform: 0 }));
    expect(maxDiff(image, rgb)).toBeLessThanOrEqual(2);
  });
});

describe('PNG decoding', () => {
  const rgba = (w: number, h: number) => Uint8Array.from({ length: w * h * 4 }, (_, i) => (i * 29 + 7) % 256);

  it.each([
    ['RGBA 8-bit', 6, 8],
    ['RGB 8-bit', 2, 8],
    ['grey 8-bit', 0, 8],
    ['grey+alpha 8-bit', 4, 8],
    ['RGBA 16-bit', 6, 16],
    ['RGB 16-bit', 2, 16],
  ] as const)('%s written by pngjs', (_, colorType, bitDepth) => {
    const [w, h] = [7, 5];
    const png = new PNG({ width: w, height: h, colorType, bitDepth, inputHasAlpha: true });
    const source = rgba(w, h);
    // Without an alpha channel the packer would composite onto white; keep those pixels opaque.
    if (colorType === 0 || colorType === 2) for (let p = 0; p < w * h; p++) source[p * 4 + 3] = 255;
    if (bitDepth === 16) {
      // pngjs packs 16-bit output from 16-bit input values.
      const wide = new Uint16Array(w * h * 4);
      for (let i = 0; i < wide.length; i++) wide[i] = source[i] * 257;
      png.data = wide as unknown as Buffer;
    } else png.data = Buffer.from(source);
    const bytes = new Uint8Array(PNG.sync.write(png, { colorType, bitDepth, inputHasAlpha: true }));
    const image = decodeImage(bytes);
    expect([image.width, image.height, image.channels]).toEqual([w, h, 4]);
    for (let p = 0; p < w * h; p++) {
      const [r, g, b, a] = source.subarray(p * 4, p * 4 + 4);
      const [R, G, B, A] = image.data.subarray(p * 4, p * 4 + 4);
      // Grey types: the packer's own grey conversion decides the level; R, G and B must agree.
      expect([R, G, B]).toEqual(colorType === 0 || colorType === 4 ? [R, R, R] : [r, g, b]);
      expect(A).toBe(colorType === 6 || colorType === 4 ? a : 255);
    }
  });

  it.each([1, 2, 4, 8] as const)('palette at %i bits with tRNS transparency', (bitDepth) => {
    const [w, h] = [11, 6];
    const entries = 2 ** Math.min(bitDepth, 4);
    const palette = Array.from({ length: entries }, (_, i) => [(i * 60) % 256, (i * 110) % 256, (i * 170) % 256] as [number, number, number]);
    const paletteAlpha = palette.map((_, i) => (i % 2 ? 128 : 255));
    const samples = Array.from({ length: w * h }, (_, p) => (p * 7) % entries);
    const image = decodeImage(writePng({ width: w, height: h, colourType: 3, bitDepth, samples, palette, paletteAlpha }));
    for (let p = 0; p < w * h; p++) {
      expect([...image.data.subarray(p * 4, p * 4 + 4)]).toEqual([...palette[samples[p]], paletteAlpha[samples[p]]]);
    }
  });

  it.each([1, 2, 4, 16] as const)('grey at %i bits', (bitDepth) => {
    const [w, h] = [10, 3];
    const max = 2 ** bitDepth - 1;
    const samples = Array.from({ length: w * h }, (_, p) => (p * 5) % (max + 1));
    const image = decodeImage(writePng({ width: w, height: h, colourType: 0, bitDepth, samples }));
    for (let p = 0; p < w * h; p++) expect(image.data[p * 4]).toBe(Math.round((samples[p] * 255) / max));
  });

  it('Adam7 interlaced RGB, including sizes smaller than a pass', () => {
    for (const [w, h] of [
      [13, 9],
      [3, 2],
    ]) {
      const samples = patternRgb(w, h);
      const image = decodeImage(writePng({ width: w, height: h, colourType: 2, bitDepth: 8, samples, interlace: true }));
      expect(maxDiff(image, samples)).toBe(0);
    }
  });
});

describe('hostile files', () => {
  // 64×64 so that image data, not headers, makes up most of the file.
  const good = encodeBaselineJpeg(64, 64, patternRgb(64, 64));
  const goodPng = writePng({ width: 8, height: 8, colourType: 2, bitDepth: 8, samples: patternRgb(8, 8) });
  const reject = (bytes: Uint8Array, pattern: RegExp) => {
    let error: unknown;
    try {
      decodeImage(bytes);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(AtelierDataError);
    expect((error as Error).message).toMatch(pattern);
  };

  it('zero-byte file', () => reject(new Uint8Array(0), /empty file/));
  it('text named .jpg', () => reject(new TextEncoder().encode('this is not an image at all'), /not a JPEG or PNG file \(it starts with "this is not an i"\)/));
  it('GIF and WebP are named', () => {
    reject(new TextEncoder().encode('GIF89a........'), /GIF images are not supported/);
    reject(new TextEncoder().encode('RIFF\0\0\0\0WEBPVP8 '), /WebP images are not supported/);
  });
  it('JPEG truncated in its header, in its data, and before its end marker', () => {
    reject(good.subarray(0, 40), /truncated JPEG/);
    reject(good.subarray(0, Math.floor(good.length * 0.7)), /truncated JPEG \(no end-of-image marker\)/);
    reject(good.subarray(0, good.length - 2), /truncated JPEG/);
  });
  it('JPEG with corrupt entropy-coded data', () => {
    const bad = good.slice();
    // Overwrite the middle of the scan with a restart marker the file never announced.
    bad.set([0xff, 0xd3, 0xff, 0xd5], good.length - 40);
    expect(() => decodeImage(bad)).toThrow(AtelierDataError);
  });
  it('PNG truncated', () => {
    reject(goodPng.subarray(0, 20), /truncated PNG/);
    reject(goodPng.subarray(0, goodPng.length - 20), /truncated PNG/);
  });
  it('PNG with a damaged IDAT is reported as corrupt', () => {
    const bad = goodPng.slice();
    bad[60] ^= 0xff;
    reject(bad, /corrupt PNG/);
  });

  it('JPEG decompression bomb: the header is refused before decoding', () => {
    // A valid 64×64 file whose frame header claims 60000×60000 (3.6 gigapixels).
    const bomb = good.slice();
    for (let i = 2; i < bomb.length; i++) {
      if (bomb[i] === 0xff && bomb[i + 1] === 0xc0) {
        bomb.set([60000 >> 8, 60000 & 0xff, 60000 >> 8, 60000 & 0xff], i + 5);
        break;
      }
    }
    reject(bomb, /JPEG header claims 60000x60000 = 3,600,000,000 pixels, more than the limit of 50,000,000/);
    expect(() => probeImage(bomb, { maxPixels: 4e9 })).not.toThrow();
  });

  it('PNG decompression bomb: IHDR refused, and interlaced data that inflates past its header', () => {
    const huge = concatBytes([PNG_SIGNATURE, pngIhdr(100_000, 100_000, 8, 6, 0), pngChunk('IEND', new Uint8Array(0))]);
    reject(huge, /claims 100000x100000/);
    // 16×16 interlaced header, 64 MB of zeros deflated to ~64 KB.
    const zeros = new Uint8Array(deflateSync(new Uint8Array(64 << 20)));
    const bomb = concatBytes([PNG_SIGNATURE, pngIhdr(16, 16, 8, 2, 1), pngChunk('IDAT', zeros), pngChunk('IEND', new Uint8Array(0))]);
    reject(bomb, /inflates to more than the \d+ bytes its 16x16 header implies/);
    const flat = concatBytes([PNG_SIGNATURE, pngIhdr(16, 16, 8, 2, 0), pngChunk('IDAT', zeros), pngChunk('IEND', new Uint8Array(0))]);
    // Non-interlaced: pngjs stops inflating at the declared size; either way no 64 MB buffer appears.
    let decoded: PixelImage | null = null;
    try {
      decoded = decodeImage(flat);
    } catch (e) {
      expect(e).toBeInstanceOf(AtelierDataError);
    }
    if (decoded) expect(decoded.data.length).toBe(16 * 16 * 4);
  });

  it('the pixel limit is configurable', () => {
    expect(() => decodeImage(good, { maxPixels: 4095 })).toThrow(/64x64 = 4,096 pixels, more than the limit of 4,095/);
    expect(decodeImage(good, { maxPixels: 4096 }).width).toBe(64);
  });

  it('file errors name the file and the cause', async () => {
    const dir = tempDir('img');
    const text = join(dir, 'photo.jpg');
    writeFileSync(text, 'hello');
    await expect(decodeImageFile(text)).rejects.toThrow(`${text}: not a JPEG or PNG file`);
    await expect(decodeImageFile(join(dir, 'missing.jpg'))).rejects.toThrow(`${join(dir, 'missing.jpg')}: file not found`);
    await expect(probeImageFile(dir)).rejects.toThrow(`${dir}: not a regular file`);
    const ok = join(dir, 'ok.png');
    writeFileSync(ok, goodPng);
    await expect(probeImageFile(ok)).resolves.toEqual({ format: 'png', width: 8, height: 8 });
  });
});
