/**
 * The factory the `batch` command and bench/batch.ts use to get a listing model. The model of
 * issue 4 is not built yet; this file is its placeholder and will be replaced by the real factory
 * (load weights, create the GPU context, allocate for `batchSize`).
 */
import type { ListingEngine } from './batch/listing-engine.ts';

export interface ListingEngineOptions {
  /** Weights folder; the committed default weights when absent. */
  weights?: string;
  /** Catalog schema to list with; the weights' first catalog when absent. */
  catalog?: string;
  /** Batch size the caller wants; the engine may cap it (see ListingEngine.maxBatch). */
  batchSize: number;
}

export async function createListingEngine(options: ListingEngineOptions): Promise<ListingEngine> {
  throw new Error('the listing model is not built yet');
}
