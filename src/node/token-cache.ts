/**
 * Image-token cache (Node): the backbone's patch tokens of every training image, computed once
 * (no augmentation) and stored as f16 on disk, so a decoder stage trains on them at full batch
 * without running the backbone (`atelier train --stage decoder`).
 *
 * Layout: `<cacheDir>/tokens/<catalog>-<key>.bin` holds one [tokens, dim] f16 block per id in the
 * order of `<...>.json`'s ids. The key hashes the backbone's weights, the image store's key (the
 * catalog's images and preprocessing) and the ids, so new weights or new images build a new cache;
 * older caches of the catalog are removed. Written to a temporary file and renamed (a killed build
 * leaves nothing that looks valid).
 */
import { createHash } from 'node:crypto';
import { closeSync, existsSync, mkdirSync, openSync, readdirSync, readFileSync, readSync, renameSync, rmSync, statSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { normaliseBatch, type PreprocessConfig } from '../data/preprocess.ts';
import { backboneForward, type Weights } from '../model/graph.ts';
import { tokenGrid, type ModelConfig } from '../model/config.ts';
import { tensorOps } from '../model/tensor-ops.ts';
import { fromF16Array, toF16Array } from '../runtime/dtype.ts';
import type { GpuContext } from '../runtime/gpu.ts';
import type { Tensor } from '../runtime/tensor.ts';
import type { ImageStore } from './image-store.ts';

const FORMAT = 'atelier-image-tokens';
const VERSION = 1;
/** Images per backbone pass while building. */
const BUILD_BATCH = 32;

interface TokenCacheIndex {
  format: typeof FORMAT;
  version: typeof VERSION;
  key: string;
  catalog: string;
  tokens: number;
  dim: number;
  ids: string[];
}

export interface TokenCacheOptions {
  ctx: GpuContext;
  config: ModelConfig;
  /** The backbone's weights on the GPU, and their host values (the cache key hashes them). */
  weights: Weights<Tensor>;
  weightValues: ReadonlyMap<string, { data: Float32Array }>;
  store: ImageStore;
  preprocess: PreprocessConfig;
  catalog: string;
  ids: readonly string[];
  cacheDir: string;
  onProgress?: (done: number, total: number) => void;
}

export class ImageTokenCache {
  private readonly positions: Map<string, number>;
  private fd: number | null;

  private constructor(
    private readonly index: TokenCacheIndex,
    readonly path: string,
    /** True when this open built the cache. */
    readonly built: boolean,
  ) {
    this.positions = new Map(index.ids.map((id, i) => [id, i]));
    this.fd = openSync(path, 'r');
  }

  /** Floats per image (tokens × dim). */
  get imageSize(): number {
    return this.index.tokens * this.index.dim;
  }

  get shape(): [number, number] {
    return [this.index.tokens, this.index.dim];
  }

  /** Opens the cache for these weights, images and ids, building it first when there is none. */
  static async open(o: TokenCacheOptions): Promise<ImageTokenCache> {
    const hash = createHash('sha256').update(JSON.stringify({ version: VERSION, store: o.store.index.key, config: o.config.backbone, ids: o.ids }));
    for (const [name, p] of [...o.weightValues].filter(([n]) => n.startsWith('backbone.')).sort(([a], [b]) => a.localeCompare(b))) {
      hash.update(name).update(new Uint8Array(p.data.buffer, p.data.byteOffset, p.data.byteLength));
    }
    const key = hash.digest('hex').slice(0, 16);
    const dir = join(o.cacheDir, 'tokens');
    const prefix = `${o.catalog.replace(/[^A-Za-z0-9_.-]/g, '_')}-`;
    const stem = join(dir, `${prefix}${key}`);
    const grid = tokenGrid(o.config.backbone);
    const index: TokenCacheIndex = { format: FORMAT, version: VERSION, key, catalog: o.catalog, tokens: grid.tokens, dim: o.config.backbone.dim, ids: [...o.ids] };
    const bytes = index.ids.length * index.tokens * index.dim * 2;
    if (existsSync(`${stem}.json`) && existsSync(`${stem}.bin`) && statSync(`${stem}.bin`).size === bytes) {
      const saved = JSON.parse(readFileSync(`${stem}.json`, 'utf8')) as TokenCacheIndex;
      if (saved.key === key) return new ImageTokenCache(saved, `${stem}.bin`, false);
    }
    mkdirSync(dir, { recursive: true });
    await build(o, `${stem}.bin`);
    writeFileSync(`${stem}.json`, JSON.stringify(index));
    // Older caches of this catalog (other weights or images) are never read again.
    for (const f of readdirSync(dir)) if (f.startsWith(prefix) && !f.startsWith(`${prefix}${key}.`)) rmSync(join(dir, f), { force: true });
    return new ImageTokenCache(index, `${stem}.bin`, true);
  }

  /** The tokens of `ids`, f32 [ids.length, tokens, dim]. */
  read(ids: readonly string[]): Float32Array {
    if (this.fd === null) throw new Error(`image-token cache ${this.path} is closed`);
    const size = this.imageSize;
    const bits = new Uint16Array(ids.length * size);
    const bytes = new Uint8Array(bits.buffer);
    ids.forEach((id, i) => {
      const p = this.positions.get(id);
      if (p === undefined) throw new Error(`image-token cache ${this.path} has no tokens for item '${id}'`);
      readSync(this.fd!, bytes, i * size * 2, size * 2, p * size * 2);
    });
    return fromF16Array(bits);
  }

  close(): void {
    if (this.fd !== null) closeSync(this.fd);
    this.fd = null;
  }
}

/** Runs the backbone over every id's stored image and writes the f16 tokens to `path`. */
async function build(o: TokenCacheOptions, path: string): Promise<void> {
  const tmp = `${path}.tmp-${process.pid}`;
  const fd = openSync(tmp, 'w');
  const keep = new Set(
    [...o.weightValues.keys()].filter((n) => n.startsWith('backbone.')).map((n) => o.weights(n)),
  );
  try {
    for (let start = 0; start < o.ids.length; start += BUILD_BATCH) {
      const ids = o.ids.slice(start, start + BUILD_BATCH);
      const images = normaliseBatch(o.store.read(ids), ids.length, o.preprocess);
      const input = o.ctx.tensor(images, [ids.length, o.config.backbone.imageHeight, o.config.backbone.imageWidth, 3]);
      const rec = o.ctx.recorder('image-tokens');
      const out = backboneForward(tensorOps(rec, keep), o.weights, o.config, input);
      rec.submit();
      const tokens = (await out.tokens.read()) as Float32Array;
      for (const t of [input, out.tokens, out.pooled]) t.dispose();
      const bits = toF16Array(tokens);
      writeSync(fd, new Uint8Array(bits.buffer, bits.byteOffset, bits.byteLength));
      o.onProgress?.(Math.min(o.ids.length, start + BUILD_BATCH), o.ids.length);
    }
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, path);
}
