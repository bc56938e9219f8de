/**
 * What the batch job needs from the listing model. The real implementation (issue 4) runs batches
 * of images through the backbone, the heads and the decoder on the GPU; `createListingEngine` in
 * src/node/engine.ts builds it. Tests drive the job with a deterministic stand-in.
 */
import type { Listing } from '../../model/listing.ts';
import type { PixelImage } from '../../data/preprocess.ts';

export interface ListOptions {
  /** Catalog schema whose heads to use (one weights folder can hold several). */
  catalog?: string;
}

export interface ListingEngine {
  /**
   * One listing per image, in the same order; images come as decoded (any size, RGB or RGBA) and
   * the engine preprocesses them. `images.length` is at most `maxBatch`.
   */
  list(images: PixelImage[], options?: ListOptions): Promise<Listing[]>;
  /** Largest batch `list` accepts (KV caches and activations are allocated for it). */
  readonly maxBatch: number;
  /** The GPU adapter it runs on, for summaries and benchmarks. */
  readonly adapterName: string;
  /** Frees GPU memory and destroys the context; call before the process exits. */
  dispose(): void;
}
