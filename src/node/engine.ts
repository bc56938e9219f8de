/**
 * The listing engine for Node: a Dawn GPU context, a weights folder (the committed default
 * weights unless told otherwise) and the listing model, behind the small interface the `list`
 * and `batch` commands and the benchmarks use.
 */
import { availableParallelism } from 'node:os';
import type { PixelImage } from '../data/preprocess.ts';
import { AUTO_CATALOG, ListingModel, type ListOptions } from '../model/listing-model.ts';
import type { Listing } from '../model/listing.ts';
import type { ListingEngine } from './batch/listing-engine.ts';
import { createNodeContext } from './gpu.ts';
import { DEFAULT_WEIGHTS_DIR, readWeightsFolder } from './weights.ts';

export interface ListingEngineOptions {
  /** Weights folder; the committed default weights when absent. */
  weights?: string;
  /** Catalog schema to list with ('auto': the catalog chooser's pick per photo); the weights' first catalog when absent. */
  catalog?: string;
  /** Batch size the caller wants; the engine may cap it (see ListingEngine.maxBatch). */
  batchSize: number;
  /** Matmul weight precision on the GPU (default auto: f16 where lossless and supported; see LoadOptions). */
  weightsDtype?: 'auto' | 'f32' | 'f16';
  /** Options for every call (prompt mode, grounding, sampling). */
  listOptions?: ListOptions;
}

/** Largest batch one call runs: KV caches and activations grow with it. */
const MAX_BATCH = 32;

export interface NodeListingEngine extends ListingEngine {
  readonly model: ListingModel;
  list(images: PixelImage[], options?: ListOptions): Promise<Listing[]>;
}

export async function createListingEngine(options: ListingEngineOptions): Promise<NodeListingEngine> {
  const bundle = readWeightsFolder(options.weights ?? DEFAULT_WEIGHTS_DIR);
  if (options.catalog && options.catalog !== AUTO_CATALOG && !bundle.catalogs.some((c) => c.name === options.catalog)) {
    throw new Error(`the weights have no catalog '${options.catalog}' (they have: ${bundle.catalogs.map((c) => c.name).join(', ')})`);
  }
  // Listing is latency-bound: leave the JS thread a core of its own (see NodeGpuOptions).
  const ctx = await createNodeContext({ softwareThreads: Math.max(1, availableParallelism() - 1) });
  try {
    const model = ListingModel.load(ctx, bundle, { weights: options.weightsDtype });
    const maxBatch = Math.max(1, Math.min(options.batchSize, MAX_BATCH));
    return {
      model,
      maxBatch,
      adapterName: ctx.adapter.name,
      async list(images, listOptions) {
        const out: Listing[] = [];
        for (let i = 0; i < images.length; i += maxBatch) {
          out.push(...(await model.list(images.slice(i, i + maxBatch), { catalog: options.catalog, ...options.listOptions, ...listOptions })));
        }
        return out;
      },
      dispose() {
        model.dispose();
        ctx.destroy();
      },
    };
  } catch (e) {
    ctx.destroy();
    throw e;
  }
}
