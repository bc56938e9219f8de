/**
 * Image decoding from bytes and files (Node: pngjs needs zlib; the page decodes with the browser).
 *
 * JPEG (baseline and progressive, greyscale, YCbCr/RGB and Adobe CMYK/YCCK) through jpeg-js; PNG
 * (bit depths 1–16, grey, RGB, palette, alpha, tRNS, Adam7 interlacing) through pngjs. Output is a
 * `PixelImage`: RGB for JPEG, RGBA for PNG, 8 bits per channel.
 *
 * Hostile input is refused with an AtelierDataError('image') whose message says why, before any
 * large allocation: `probeImage` reads only the header (JPEG markers up to the frame header, PNG's
 * IHDR) and checks the claimed size against `maxPixels` (default 50 megapixels), so decompression
 * bombs never reach a decoder; zero-byte files, other formats (GIF, WebP, text named .jpg),
 * arithmetic-coded/lossless/12-bit JPEGs and files cut short (no JPEG end-of-image marker, no PNG
 * IEND chunk) are refused too. Interlaced PNG data is inflated once with an output cap first,
 * because pngjs inflates interlaced images without a limit.
 */
import { readFile, stat } from 'node:fs/promises';
import { inflateSync } from 'node:zlib';
import jpeg from 'jpeg-js';
import { PNG } from 'pngjs';
import { AtelierDataError } from '../data/errors.ts';
import type { PixelImage } from '../data/preprocess.ts';

export const DEFAULT_MAX_PIXELS = 50_000_000;

export interface DecodeOptions {
  /** Refuse images whose header claims more pixels than this (default 50 megapixels). */
  maxPixels?: number;
}

export interface ImageInfo {
  format: 'jpeg' | 'png';
  width: number;
  height: number;
  /** JPEG: the colour transform of an Adobe APP14 marker (0 none, 1 YCbCr, 2 YCCK), if present. */
  adobeTransform?: number;
}

const fail = (reason: string): never => {
  throw new AtelierDataError('image', reason);
};

/** Format and size from the header; throws with the reason when the file is unusable. */
export function probeImage(bytes: Uint8Array, options: DecodeOptions = {}): ImageInfo {
  const maxPixels = options.maxPixels ?? DEFAULT_MAX_PIXELS;
  if (bytes.length === 0) return fail('empty file (0 bytes)');
  const info = bytes[0] === 0xff && bytes[1] === 0xd8 ? probeJpeg(bytes) : isPng(bytes) ? probePng(bytes) : fail(unknownFormat(bytes));
  if (info.width * info.height > maxPixels) {
    const count = (n: number) => n.toLocaleString('en-US');
    fail(`${info.format.toUpperCase()} header claims ${info.width}x${info.height} = ${count(info.width * info.height)} pixels, more than the limit of ${count(maxPixels)} (a decompression bomb or an oversized photo)`);
  }
  return info;
}

/** Decodes JPEG or PNG bytes after `probeImage`'s checks. */
export function decodeImage(bytes: Uint8Array, options: DecodeOptions = {}): PixelImage {
  const maxPixels = options.maxPixels ?? DEFAULT_MAX_PIXELS;
  const info = probeImage(bytes, { maxPixels });
  try {
    if (info.format === 'jpeg') {
      const image = jpeg.decode(bytes, {
        useTArray: true,
        // jpeg-js converts three components from YCbCr even when an Adobe marker says they are RGB.
        ...(info.adobeTransform === 0 ? { colorTransform: false } : {}),
        formatAsRGBA: false,
        tolerantDecoding: false,
        maxResolutionInMP: maxPixels / 1e6,
        // jpeg-js counts its coefficient and line buffers (~16 bytes a pixel for colour images).
        maxMemoryUsageInMB: Math.max(512, Math.ceil((maxPixels * 24) / 1e6)),
      });
      return { width: image.width, height: image.height, channels: 3, data: image.data };
    }
    const buffer = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length);
    if (buffer[28] === 1) checkInterlacedPngSize(buffer, info);
    const png = PNG.sync.read(buffer);
    return { width: png.width, height: png.height, channels: 4, data: new Uint8Array(png.data.buffer, png.data.byteOffset, png.data.length) };
  } catch (e) {
    if (e instanceof AtelierDataError) throw e;
    const message = e instanceof Error ? e.message : String(e);
    return fail(`corrupt ${info.format.toUpperCase()} data (${message})`);
  }
}

/** Reads and decodes an image file; errors name the file. */
export async function decodeImageFile(path: string, options: DecodeOptions = {}): Promise<PixelImage> {
  return withPath(path, async () => decodeImage(await readImageBytes(path, options), options));
}

/** Reads an image file and checks its header (format, size limit, not truncated) without decoding. */
export async function probeImageFile(path: string, options: DecodeOptions = {}): Promise<ImageInfo> {
  return withPath(path, async () => probeImage(await readImageBytes(path, options), options));
}

/** The file's bytes; refuses files too big to be an image within the pixel limit. */
export async function readImageBytes(path: string, options: DecodeOptions = {}): Promise<Uint8Array> {
  const maxBytes = (options.maxPixels ?? DEFAULT_MAX_PIXELS) * 4 + 1_000_000;
  try {
    const info = await stat(path);
    if (!info.isFile()) fail('not a regular file');
    if (info.size > maxBytes) fail(`file of ${info.size} bytes is larger than any image within the pixel limit could be`);
    return await readFile(path);
  } catch (e) {
    if (e instanceof AtelierDataError) throw e;
    const code = (e as NodeJS.ErrnoException).code;
    return fail(code === 'ENOENT' ? 'file not found' : code === 'EACCES' ? 'permission denied' : `cannot read file (${(e as Error).message})`);
  }
}

async function withPath<T>(path: string, body: () => Promise<T>): Promise<T> {
  try {
    return await body();
  } catch (e) {
    if (e instanceof AtelierDataError) throw new AtelierDataError('image', `${path}: ${e.message}`);
    throw e;
  }
}

function unknownFormat(bytes: Uint8Array): string {
  const ascii = (from: number, to: number) => String.fromCharCode(...bytes.subarray(from, to));
  if (ascii(0, 4) === 'GIF8') return 'GIF images are not supported (use JPEG or PNG)';
  if (ascii(0, 4) === 'RIFF' && ascii(8, 12) === 'WEBP') return 'WebP images are not supported (use JPEG or PNG)';
  if (ascii(0, 2) === 'BM') return 'BMP images are not supported (use JPEG or PNG)';
  const head = bytes.subarray(0, 16);
  const printable = head.every((b) => (b >= 0x20 && b < 0x7f) || b === 9 || b === 10 || b === 13);
  const shown = printable ? JSON.stringify(ascii(0, head.length)) : [...head].map((b) => b.toString(16).padStart(2, '0')).join(' ');
  return `not a JPEG or PNG file (it starts with ${shown})`;
}

function isPng(bytes: Uint8Array): boolean {
  const signature = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];
  return bytes.length >= 8 && signature.every((b, i) => bytes[i] === b);
}

const be16 = (b: Uint8Array, i: number) => (b[i] << 8) | b[i + 1];
const be32 = (b: Uint8Array, i: number) => b[i] * 2 ** 24 + ((b[i + 1] << 16) | (b[i + 2] << 8) | b[i + 3]);

/** Walks JPEG marker segments to the frame header (size, components) and the first scan. */
function probeJpeg(b: Uint8Array): ImageInfo {
  let frame: ImageInfo | null = null;
  let adobeTransform: number | undefined;
  let pos = 2;
  for (;;) {
    if (pos + 4 > b.length) return fail(frame ? 'truncated JPEG (ends before its image data)' : 'truncated JPEG (ends before its frame header)');
    if (b[pos] !== 0xff) return fail(`corrupt JPEG (expected a marker at byte ${pos})`);
    const marker = b[pos + 1];
    if (marker === 0xff) {
      pos++;
      continue;
    }
    if (marker === 0x01 || (marker >= 0xd0 && marker <= 0xd7)) {
      pos += 2;
      continue;
    }
    if (marker === 0xd9) return fail('corrupt JPEG (end-of-image marker before any image data)');
    const length = be16(b, pos + 2);
    if (length < 2 || pos + 2 + length > b.length) return fail('truncated JPEG (a header segment runs past the end of the file)');
    if (marker === 0xee && length >= 14 && String.fromCharCode(...b.subarray(pos + 4, pos + 9)) === 'Adobe') adobeTransform = b[pos + 15];
    if (marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc) {
      if (marker === 0xc3 || marker === 0xc7 || marker === 0xcb || marker === 0xcf) return fail('lossless JPEGs are not supported');
      if (marker >= 0xc9) return fail('arithmetic-coded JPEGs are not supported');
      if (marker >= 0xc5) return fail('hierarchical JPEGs are not supported');
      if (length < 8) return fail('corrupt JPEG (frame header too short)');
      const precision = b[pos + 4];
      const height = be16(b, pos + 5);
      const width = be16(b, pos + 7);
      const components = b[pos + 9];
      if (precision !== 8) return fail(`${precision}-bit JPEGs are not supported (only 8-bit)`);
      if (width === 0 || height === 0) return fail(`JPEG frame header gives a size of ${width}x${height}`);
      if (components !== 1 && components !== 3 && components !== 4) return fail(`JPEGs with ${components} colour components are not supported`);
      frame = { format: 'jpeg', width, height };
    }
    if (marker === 0xda) {
      if (!frame) return fail('corrupt JPEG (image data before the frame header)');
      // A complete file ends with the end-of-image marker somewhere after the first scan.
      for (let i = b.length - 2; i > pos; i--) if (b[i] === 0xff && b[i + 1] === 0xd9) return adobeTransform === undefined ? frame : { ...frame, adobeTransform };
      return fail('truncated JPEG (no end-of-image marker)');
    }
    pos += 2 + length;
  }
}

const PNG_DEPTHS: Record<number, number[]> = { 0: [1, 2, 4, 8, 16], 2: [8, 16], 3: [1, 2, 4, 8], 4: [8, 16], 6: [8, 16] };
const PNG_CHANNELS: Record<number, number> = { 0: 1, 2: 3, 3: 1, 4: 2, 6: 4 };

function probePng(b: Uint8Array): ImageInfo {
  if (b.length < 33 || be32(b, 8) !== 13 || String.fromCharCode(...b.subarray(12, 16)) !== 'IHDR') {
    return fail(b.length < 33 ? 'truncated PNG (ends inside its header)' : 'corrupt PNG (the first chunk is not IHDR)');
  }
  const width = be32(b, 16);
  const height = be32(b, 20);
  const depth = b[24];
  const colourType = b[25];
  if (width === 0 || height === 0) fail(`PNG header gives a size of ${width}x${height}`);
  if (!PNG_DEPTHS[colourType]?.includes(depth)) fail(`PNG header has an invalid colour type ${colourType} with bit depth ${depth}`);
  if (b[28] > 1) fail(`PNG header has an unknown interlace method ${b[28]}`);
  // A complete file ends with the IEND chunk (allowing a little trailing junk).
  let end = false;
  for (let i = b.length - 8; i >= Math.max(33, b.length - 64) && !end; i--) end = b[i] === 0x49 && b[i + 1] === 0x45 && b[i + 2] === 0x4e && b[i + 3] === 0x44;
  if (!end) fail('truncated PNG (no IEND chunk at the end)');
  return { format: 'png', width, height };
}

/** Inflates an interlaced PNG's data with a cap at the size its header implies (pngjs has none). */
function checkInterlacedPngSize(b: Buffer, info: ImageInfo): void {
  const bitsPerPixel = PNG_CHANNELS[b[25]] * b[24];
  let expected = 0;
  // Adam7 passes: starting column/row and step.
  for (const [x0, y0, dx, dy] of [[0, 0, 8, 8], [4, 0, 8, 8], [0, 4, 4, 8], [2, 0, 4, 4], [0, 2, 2, 4], [1, 0, 2, 2], [0, 1, 1, 2]]) {
    const w = Math.ceil((info.width - x0) / dx);
    const h = Math.ceil((info.height - y0) / dy);
    if (w > 0 && h > 0) expected += h * (1 + Math.ceil((w * bitsPerPixel) / 8));
  }
  const parts: Buffer[] = [];
  for (let pos = 8; pos + 8 <= b.length; ) {
    const length = be32(b, pos);
    const type = b.toString('latin1', pos + 4, pos + 8);
    if (type === 'IDAT') parts.push(b.subarray(pos + 8, Math.min(b.length, pos + 8 + length)));
    if (type === 'IEND') break;
    pos += 12 + length;
  }
  try {
    inflateSync(Buffer.concat(parts), { maxOutputLength: expected + 1 });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE') fail(`PNG data inflates to more than the ${expected} bytes its ${info.width}x${info.height} header implies (a decompression bomb)`);
    throw e;
  }
}
