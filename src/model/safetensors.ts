/**
 * safetensors reading and writing (browser-safe: ArrayBuffers only).
 * Format: 8-byte little-endian header length N, N bytes of JSON header
 * {name: {dtype, shape, data_offsets: [begin, end]}, __metadata__: {string: string}}, then the data.
 * We add a CRC-32 of the data section to __metadata__.crc32 and check it on load, so a truncated or
 * corrupted file fails with a clear message instead of loading garbage.
 */
export type SafeDType = 'F32' | 'F16' | 'I32' | 'U32';

export interface SafeTensor {
  dtype: SafeDType;
  shape: number[];
  /** Raw little-endian bytes. */
  data: Uint8Array;
}

export class WeightsFormatError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'WeightsFormatError';
  }
}

const DTYPE_BYTES: Record<SafeDType, number> = { F32: 4, F16: 2, I32: 4, U32: 4 };

let crcTable: Uint32Array | null = null;
export function crc32(bytes: Uint8Array): number {
  if (!crcTable) {
    crcTable = new Uint32Array(256);
    for (let n = 0; n < 256; n++) {
      let c = n;
      for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
      crcTable[n] = c >>> 0;
    }
  }
  let crc = 0xffffffff;
  for (let i = 0; i < bytes.length; i++) crc = crcTable[(crc ^ bytes[i]) & 0xff] ^ (crc >>> 8);
  return (crc ^ 0xffffffff) >>> 0;
}

export function serializeSafetensors(tensors: Record<string, SafeTensor>, metadata: Record<string, string> = {}): Uint8Array {
  const names = Object.keys(tensors).sort();
  const header: Record<string, unknown> = {};
  let offset = 0;
  for (const name of names) {
    const t = tensors[name];
    const expected = t.shape.reduce((p, d) => p * d, 1) * DTYPE_BYTES[t.dtype];
    if (t.data.byteLength !== expected) throw new WeightsFormatError(`tensor ${name}: ${t.data.byteLength} bytes for shape [${t.shape}] ${t.dtype} (expected ${expected})`);
    header[name] = { dtype: t.dtype, shape: t.shape, data_offsets: [offset, offset + expected] };
    offset += expected;
  }
  const data = new Uint8Array(offset);
  let at = 0;
  for (const name of names) {
    data.set(tensors[name].data, at);
    at += tensors[name].data.byteLength;
  }
  header.__metadata__ = { ...metadata, crc32: crc32(data).toString(16) };
  let json = JSON.stringify(header);
  json += ' '.repeat((8 - ((8 + json.length) % 8)) % 8); // align the data section to 8 bytes
  const headerBytes = new TextEncoder().encode(json);
  const out = new Uint8Array(8 + headerBytes.length + data.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(headerBytes.length), true);
  out.set(headerBytes, 8);
  out.set(data, 8 + headerBytes.length);
  return out;
}

export function parseSafetensors(file: Uint8Array, source = 'weights'): { tensors: Record<string, SafeTensor>; metadata: Record<string, string> } {
  if (file.byteLength < 8) throw new WeightsFormatError(`${source}: ${file.byteLength} bytes is too short for a safetensors file (truncated?)`);
  const view = new DataView(file.buffer, file.byteOffset, file.byteLength);
  const headerLen = Number(view.getBigUint64(0, true));
  if (headerLen > file.byteLength - 8 || headerLen > 100 << 20) {
    throw new WeightsFormatError(`${source}: header length ${headerLen} exceeds the file size ${file.byteLength} (truncated or not a safetensors file)`);
  }
  let header: Record<string, { dtype: SafeDType; shape: number[]; data_offsets: [number, number] } | Record<string, string>>;
  try {
    header = JSON.parse(new TextDecoder().decode(file.subarray(8, 8 + headerLen)));
  } catch (e) {
    throw new WeightsFormatError(`${source}: header is not valid JSON (${(e as Error).message})`);
  }
  const data = file.subarray(8 + headerLen);
  const metadata = (header.__metadata__ ?? {}) as Record<string, string>;
  const tensors: Record<string, SafeTensor> = {};
  for (const [name, entry] of Object.entries(header)) {
    if (name === '__metadata__') continue;
    const { dtype, shape, data_offsets } = entry as { dtype: SafeDType; shape: number[]; data_offsets: [number, number] };
    if (!(dtype in DTYPE_BYTES)) throw new WeightsFormatError(`${source}: tensor ${name} has unsupported dtype ${dtype}`);
    const [begin, end] = data_offsets;
    const expected = shape.reduce((p, d) => p * d, 1) * DTYPE_BYTES[dtype];
    if (end - begin !== expected) throw new WeightsFormatError(`${source}: tensor ${name} spans ${end - begin} bytes but shape [${shape}] ${dtype} needs ${expected}`);
    if (end > data.byteLength) {
      throw new WeightsFormatError(`${source}: tensor ${name} ends at byte ${end} of the data section, which has only ${data.byteLength} bytes (the file is truncated)`);
    }
    tensors[name] = { dtype, shape, data: data.subarray(begin, end) };
  }
  if (metadata.crc32 !== undefined) {
    const actual = crc32(data).toString(16);
    if (actual !== metadata.crc32) throw new WeightsFormatError(`${source}: checksum mismatch (crc32 ${actual}, header says ${metadata.crc32}): the file is corrupted`);
  }
  return { tensors, metadata };
}
