/**
 * Test fixtures generated on the fly: JPEG and PNG files in every flavour the decoders must handle,
 * and tiny catalog folders with bad rows.
 *
 * `writeJpeg` is a small JPEG encoder for the variants jpeg-js's own encoder cannot write:
 * greyscale, CMYK/RGB with an Adobe marker, and progressive (spectral selection, with DC successive
 * approximation). All components are sampled 1×1 and quantised with a table of ones, so decoded
 * pixels are within a couple of levels of the input. Huffman tables are flat (every DC category
 * 4 bits, every AC symbol 8 bits): valid, just not compact.
 *
 * `writePng` writes what pngjs's packer cannot: palette images with tRNS, 1/2/4-bit greys and
 * Adam7 interlacing (plus the ordinary kinds).
 */
import { mkdtempSync, mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { deflateSync } from 'node:zlib';
import jpegJs from 'jpeg-js';

export function tempDir(prefix: string): string {
  return mkdtempSync(join(tmpdir(), `atelier-${prefix}-`));
}

/** A smooth RGB test pattern (gradients plus a block), width × height × 3. */
export function patternRgb(width: number, height: number): Uint8Array {
  const rgb = new Uint8Array(width * height * 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const o = (y * width + x) * 3;
      rgb[o] = Math.round((255 * x) / Math.max(1, width - 1));
      rgb[o + 1] = Math.round((255 * y) / Math.max(1, height - 1));
      rgb[o + 2] = x > width / 3 && x < (2 * width) / 3 && y > height / 3 ? 200 : 40;
    }
  }
  return rgb;
}

/** A baseline colour JPEG from jpeg-js's encoder. */
export function encodeBaselineJpeg(width: number, height: number, rgb: Uint8Array, quality = 95): Uint8Array {
  const rgba = new Uint8Array(width * height * 4);
  for (let p = 0; p < width * height; p++) {
    rgba.set(rgb.subarray(p * 3, p * 3 + 3), p * 4);
    rgba[p * 4 + 3] = 255;
  }
  return new Uint8Array(jpegJs.encode({ width, height, data: rgba }, quality).data);
}

/** RGB → full-range YCbCr planes (JFIF). */
export function rgbToYcbcrPlanes(width: number, height: number, rgb: Uint8Array): Uint8Array[] {
  const planes = [0, 1, 2].map(() => new Uint8Array(width * height));
  for (let p = 0; p < width * height; p++) {
    const [r, g, b] = [rgb[p * 3], rgb[p * 3 + 1], rgb[p * 3 + 2]];
    planes[0][p] = Math.round(0.299 * r + 0.587 * g + 0.114 * b);
    planes[1][p] = Math.max(0, Math.min(255, Math.round(128 - 0.168736 * r - 0.331264 * g + 0.5 * b)));
    planes[2][p] = Math.max(0, Math.min(255, Math.round(128 + 0.5 * r - 0.418688 * g - 0.081312 * b)));
  }
  return planes;
}

const ZIGZAG = [
  0, 1, 8, 16, 9, 2, 3, 10, 17, 24, 32, 25, 18, 11, 4, 5, 12, 19, 26, 33, 40, 48, 41, 34, 27, 20, 13, 6, 7, 14, 21, 28, 35, 42, 49, 56, 57, 50, 43, 36, 29, 22, 15, 23,
  30, 37, 44, 51, 58, 59, 52, 45, 38, 31, 39, 46, 53, 60, 61, 54, 47, 55, 62, 63,
];
const AC_SYMBOLS = [0x00, 0xf0, ...Array.from({ length: 160 }, (_, i) => ((i / 10) | 0) * 16 + (i % 10) + 1)];

class BitWriter {
  bytes: number[] = [];
  private acc = 0;
  private n = 0;
  write(value: number, bits: number): void {
    for (let i = bits - 1; i >= 0; i--) {
      this.acc = (this.acc << 1) | ((value >> i) & 1);
      if (++this.n === 8) {
        this.bytes.push(this.acc);
        if (this.acc === 0xff) this.bytes.push(0);
        this.acc = 0;
        this.n = 0;
      }
    }
  }
  /** Pads the last byte with ones, as the standard asks. */
  flush(): number[] {
    while (this.n !== 0) this.write(1, 1);
    return this.bytes;
  }
}

const category = (v: number) => (v === 0 ? 0 : Math.floor(Math.log2(Math.abs(v))) + 1);
const magnitudeBits = (v: number, s: number) => (v >= 0 ? v : v + (1 << s) - 1);

/** Forward DCT of each 8×8 block of a plane (edge pixels repeated), rounded: quantisation by ones. */
function blocksOf(plane: Uint8Array, width: number, height: number): Int32Array[] {
  const bw = Math.ceil(width / 8);
  const bh = Math.ceil(height / 8);
  const blocks: Int32Array[] = [];
  for (let by = 0; by < bh; by++) {
    for (let bx = 0; bx < bw; bx++) {
      const f = new Float64Array(64);
      for (let y = 0; y < 8; y++) {
        for (let x = 0; x < 8; x++) {
          const sx = Math.min(width - 1, bx * 8 + x);
          const sy = Math.min(height - 1, by * 8 + y);
          f[y * 8 + x] = plane[sy * width + sx] - 128;
        }
      }
      const out = new Int32Array(64);
      for (let v = 0; v < 8; v++) {
        for (let u = 0; u < 8; u++) {
          let sum = 0;
          for (let y = 0; y < 8; y++) for (let x = 0; x < 8; x++) sum += f[y * 8 + x] * Math.cos(((2 * x + 1) * u * Math.PI) / 16) * Math.cos(((2 * y + 1) * v * Math.PI) / 16);
          const cu = u === 0 ? Math.SQRT1_2 : 1;
          const cv = v === 0 ? Math.SQRT1_2 : 1;
          out[v * 8 + u] = Math.round(0.25 * cu * cv * sum);
        }
      }
      blocks.push(out);
    }
  }
  return blocks;
}

export interface JpegFixtureOptions {
  width: number;
  height: number;
  /** One plane per component (1, 3 or 4), width × height bytes, in the colour space to store. */
  planes: Uint8Array[];
  progressive?: boolean;
  /** Write an Adobe APP14 marker with this transform (0: none, 1: YCbCr, 2: YCCK). */
  adobeTransform?: number;
}

export function writeJpeg(options: JpegFixtureOptions): Uint8Array {
  const { width, height, planes } = options;
  const out: number[] = [0xff, 0xd8];
  const segment = (marker: number, body: number[]) => out.push(0xff, marker, (body.length + 2) >> 8, (body.length + 2) & 0xff, ...body);
  if (options.adobeTransform !== undefined) segment(0xee, [...'Adobe'].map((c) => c.charCodeAt(0)).concat([0, 100, 0, 0, 0, 0, options.adobeTransform]));
  segment(0xdb, [0, ...new Array(64).fill(1)]);
  segment(options.progressive ? 0xc2 : 0xc0, [8, height >> 8, height & 0xff, width >> 8, width & 0xff, planes.length, ...planes.flatMap((_, i) => [i + 1, 0x11, 0])]);
  const dcBits = new Array(16).fill(0);
  dcBits[3] = 12;
  segment(0xc4, [0x00, ...dcBits, ...Array.from({ length: 12 }, (_, i) => i)]);
  const acBits = new Array(16).fill(0);
  acBits[7] = AC_SYMBOLS.length;
  segment(0xc4, [0x10, ...acBits, ...AC_SYMBOLS]);

  const blocks = planes.map((p) => blocksOf(p, width, height));
  const count = blocks[0].length;
  const dcCode = (s: number, w: BitWriter) => w.write(s, 4);
  const acCode = (symbol: number, w: BitWriter) => w.write(AC_SYMBOLS.indexOf(symbol), 8);
  const encodeDc = (w: BitWriter, value: number, previous: number) => {
    const diff = value - previous;
    const s = category(diff);
    dcCode(s, w);
    if (s) w.write(magnitudeBits(diff, s), s);
  };
  const encodeAc = (w: BitWriter, block: Int32Array, from: number, to: number) => {
    let run = 0;
    for (let k = from; k <= to; k++) {
      const v = block[ZIGZAG[k]];
      if (v === 0) {
        run++;
        continue;
      }
      while (run > 15) {
        acCode(0xf0, w);
        run -= 16;
      }
      const s = category(v);
      acCode((run << 4) | s, w);
      w.write(magnitudeBits(v, s), s);
      run = 0;
    }
    if (run > 0) acCode(0x00, w);
  };
  const scan = (components: number[], ss: number, se: number, ah: number, al: number, body: (w: BitWriter) => void) => {
    segment(0xda, [components.length, ...components.flatMap((c) => [c + 1, 0x00]), ss, se, (ah << 4) | al]);
    const w = new BitWriter();
    body(w);
    out.push(...w.flush());
  };
  const all = planes.map((_, c) => c);
  if (!options.progressive) {
    scan(all, 0, 63, 0, 0, (w) => {
      const previous = all.map(() => 0);
      for (let b = 0; b < count; b++) {
        for (const c of all) {
          encodeDc(w, blocks[c][b][0], previous[c]);
          previous[c] = blocks[c][b][0];
          encodeAc(w, blocks[c][b], 1, 63);
        }
      }
    });
  } else {
    // DC in two passes (successive approximation), then AC in two spectral bands per component.
    scan(all, 0, 0, 0, 1, (w) => {
      const previous = all.map(() => 0);
      for (let b = 0; b < count; b++) {
        for (const c of all) {
          const dc = blocks[c][b][0] >> 1;
          encodeDc(w, dc, previous[c]);
          previous[c] = dc;
        }
      }
    });
    for (const [ss, se] of [[1, 5], [6, 63]]) {
      for (const c of all) scan([c], ss, se, 0, 0, (w) => blocks[c].forEach((block) => encodeAc(w, block, ss, se)));
    }
    scan(all, 0, 0, 1, 0, (w) => {
      for (let b = 0; b < count; b++) for (const c of all) w.write(blocks[c][b][0] & 1, 1);
    });
  }
  out.push(0xff, 0xd9);
  return new Uint8Array(out);
}

const CRC_TABLE = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});

function crc32(bytes: Uint8Array): number {
  let c = 0xffffffff;
  for (const b of bytes) c = CRC_TABLE[(c ^ b) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

export function pngChunk(type: string, data: Uint8Array): Uint8Array {
  const out = new Uint8Array(12 + data.length);
  const view = new DataView(out.buffer);
  view.setUint32(0, data.length);
  for (let i = 0; i < 4; i++) out[4 + i] = type.charCodeAt(i);
  out.set(data, 8);
  view.setUint32(8 + data.length, crc32(out.subarray(4, 8 + data.length)));
  return out;
}

export const PNG_SIGNATURE = new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

export function pngIhdr(width: number, height: number, bitDepth: number, colourType: number, interlace: 0 | 1): Uint8Array {
  const ihdr = new Uint8Array(13);
  const view = new DataView(ihdr.buffer);
  view.setUint32(0, width);
  view.setUint32(4, height);
  ihdr.set([bitDepth, colourType, 0, 0, interlace], 8);
  return pngChunk('IHDR', ihdr);
}

export function concatBytes(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((s, p) => s + p.length, 0));
  let offset = 0;
  for (const p of parts) {
    out.set(p, offset);
    offset += p.length;
  }
  return out;
}

export interface PngFixtureOptions {
  width: number;
  height: number;
  /** 0 grey, 2 RGB, 3 palette, 4 grey+alpha, 6 RGBA. */
  colourType: 0 | 2 | 3 | 4 | 6;
  bitDepth: 1 | 2 | 4 | 8 | 16;
  /** Sample values (palette indices for type 3), width × height × channels, within the bit depth. */
  samples: ArrayLike<number>;
  /** RGB triples for colour type 3. */
  palette?: [number, number, number][];
  /** tRNS: alpha per palette entry. */
  paletteAlpha?: number[];
  interlace?: boolean;
}

const PNG_CHANNELS = { 0: 1, 2: 3, 3: 1, 4: 2, 6: 4 } as const;

export function writePng(options: PngFixtureOptions): Uint8Array {
  const { width, height, colourType, bitDepth, samples } = options;
  const channels = PNG_CHANNELS[colourType];
  const packRows = (xs: number[], ys: number[]): number[] => {
    const bytes: number[] = [];
    for (const y of ys) {
      bytes.push(0);
      let acc = 0;
      let bits = 0;
      for (const x of xs) {
        for (let c = 0; c < channels; c++) {
          const v = samples[(y * width + x) * channels + c];
          if (bitDepth === 16) bytes.push(v >> 8, v & 0xff);
          else if (bitDepth === 8) bytes.push(v);
          else {
            acc = (acc << bitDepth) | v;
            bits += bitDepth;
            if (bits === 8) {
              bytes.push(acc);
              acc = 0;
              bits = 0;
            }
          }
        }
      }
      if (bits > 0) bytes.push(acc << (8 - bits));
    }
    return bytes;
  };
  const range = (from: number, to: number, step: number) => {
    const r: number[] = [];
    for (let i = from; i < to; i += step) r.push(i);
    return r;
  };
  let raw: number[];
  if (options.interlace) {
    raw = [];
    for (const [x0, y0, dx, dy] of [[0, 0, 8, 8], [4, 0, 8, 8], [0, 4, 4, 8], [2, 0, 4, 4], [0, 2, 2, 4], [1, 0, 2, 2], [0, 1, 1, 2]]) {
      const xs = range(x0, width, dx);
      const ys = range(y0, height, dy);
      if (xs.length && ys.length) raw.push(...packRows(xs, ys));
    }
  } else raw = packRows(range(0, width, 1), range(0, height, 1));
  const chunks = [PNG_SIGNATURE, pngIhdr(width, height, bitDepth, colourType, options.interlace ? 1 : 0)];
  if (options.palette) chunks.push(pngChunk('PLTE', new Uint8Array(options.palette.flat())));
  if (options.paletteAlpha) chunks.push(pngChunk('tRNS', new Uint8Array(options.paletteAlpha)));
  chunks.push(pngChunk('IDAT', new Uint8Array(deflateSync(new Uint8Array(raw)))), pngChunk('IEND', new Uint8Array(0)));
  return concatBytes(chunks);
}

/** One listing line's fields; `image` defaults to images/<id>.jpg. */
export interface FixtureRow {
  id?: unknown;
  image?: unknown;
  title?: unknown;
  description?: unknown;
  price?: unknown;
  currency?: unknown;
  brand?: unknown;
  attributes?: unknown;
}

/** Writes a catalog folder: listings.jsonl from `rows` (strings are written verbatim) and `images` (path → bytes). */
export function writeCatalog(dir: string, rows: (FixtureRow | string)[], images: Record<string, Uint8Array>): string {
  mkdirSync(join(dir, 'images'), { recursive: true });
  writeFileSync(join(dir, 'listings.jsonl'), rows.map((r) => (typeof r === 'string' ? r : JSON.stringify(r))).join('\n') + '\n');
  for (const [path, bytes] of Object.entries(images)) writeFileSync(join(dir, path), bytes);
  return dir;
}
