/**
 * The batch listing job: items in, one output record per item, batch by batch.
 *
 * Per batch: read and decode the images (the next batch's are read while the engine works on this
 * one), list the decodable ones in one engine call, write every item's record in input order (a
 * listing, or an `error` for an image that could not be used), then fsync. Items already in the
 * output are skipped, so rerunning with --resume after any interruption finishes the job with each
 * item exactly once. An engine failure is not an item's fault (a lost device fails every batch),
 * so it stops the job with the output intact rather than marking items failed.
 */
import type { PixelImage } from '../../data/preprocess.ts';
import { decodeImage, readImageBytes } from '../image.ts';
import type { BatchItem } from './inputs.ts';
import type { ListingEngine } from './listing-engine.ts';
import type { OutputSink } from './output.ts';

/** Images per engine call when the command line does not say. */
export const DEFAULT_BATCH_SIZE = 16;

export interface BatchJobOptions {
  /** This worker's items (already sharded and limited), in order. */
  items: readonly BatchItem[];
  engine: ListingEngine;
  output: OutputSink;
  /** Images per engine call; capped at engine.maxBatch. */
  batchSize: number;
  /** Called after each batch is written, with the running totals (for a progress bar). */
  onBatch?: (batchItems: number, totals: { done: number; failed: number }) => void;
  /** Stops the job after the batch in progress (SIGINT/SIGTERM); the output stays resumable. */
  signal?: AbortSignal;
}

export interface BatchSummary {
  /** Items assigned to this run (after --shard and --limit). */
  items: number;
  /** Already in the output (resume). */
  skipped: number;
  /** Listed by this run. */
  done: number;
  /** Recorded with an error by this run. */
  failed: number;
  /** Not reached because the job was interrupted. */
  remaining: number;
  interrupted: boolean;
  batchSize: number;
  seconds: number;
  /** (done + failed) / seconds. */
  itemsPerSecond: number;
  /** Wall time per phase, summed over batches; reading overlaps the engine, so they can exceed `seconds`. */
  timings_ms: { read_decode: number; engine: number; write: number };
}

interface LoadedItem {
  item: BatchItem;
  image?: PixelImage;
  error?: string;
}

/**
 * Reads and decodes with the catalog loader's checks (formats, truncation, decompression bombs).
 * Its message, the cause without the path (the record already names the image), becomes the
 * item's `error`.
 */
async function readImageFile(path: string): Promise<PixelImage> {
  return decodeImage(await readImageBytes(path));
}

export async function runBatchJob(options: BatchJobOptions): Promise<BatchSummary> {
  const { items, engine, output } = options;
  if (!Number.isInteger(options.batchSize) || options.batchSize < 1) throw new Error(`batch size must be a positive integer, got ${options.batchSize}`);
  const batchSize = Math.min(options.batchSize, engine.maxBatch);
  const started = performance.now();
  const timings_ms = { read_decode: 0, engine: 0, write: 0 };

  const pending = items.filter((item) => !output.doneIds.has(item.id));
  const batches: BatchItem[][] = [];
  for (let i = 0; i < pending.length; i += batchSize) batches.push(pending.slice(i, i + batchSize));

  const load = async (batch: BatchItem[]): Promise<LoadedItem[]> => {
    const t = performance.now();
    const loaded = await Promise.all(
      batch.map(async (item): Promise<LoadedItem> => {
        try {
          return { item, image: await readImageFile(item.path) };
        } catch (e) {
          return { item, error: (e as Error).message };
        }
      }),
    );
    timings_ms.read_decode += performance.now() - t;
    return loaded;
  };

  let done = 0;
  let failed = 0;
  let next = batches.length > 0 ? load(batches[0]) : null;
  for (let b = 0; b < batches.length && !options.signal?.aborted; b++) {
    const loaded = await next!;
    next = b + 1 < batches.length ? load(batches[b + 1]) : null;

    const decodable = loaded.filter((l) => l.image);
    const t = performance.now();
    let listings;
    try {
      listings = decodable.length > 0 ? await engine.list(decodable.map((l) => l.image!)) : [];
    } catch (e) {
      throw new Error(`the listing engine failed on the batch starting at '${batches[b][0].id}': ${(e as Error).message} (the ${done + failed} items written by this run are kept; rerun with --resume)`);
    }
    if (listings.length !== decodable.length) {
      throw new Error(`the listing engine returned ${listings.length} listings for ${decodable.length} images`);
    }
    timings_ms.engine += performance.now() - t;

    const w = performance.now();
    let nextListing = 0;
    for (const l of loaded) {
      if (l.image) {
        output.write({ id: l.item.id, image: l.item.image, ...listings[nextListing++] });
        done++;
      } else {
        output.write({ id: l.item.id, image: l.item.image, error: l.error! });
        failed++;
      }
    }
    output.sync();
    timings_ms.write += performance.now() - w;
    options.onBatch?.(loaded.length, { done, failed });
  }

  const seconds = (performance.now() - started) / 1000;
  const processed = done + failed;
  return {
    items: items.length,
    skipped: items.length - pending.length,
    done,
    failed,
    remaining: pending.length - processed,
    interrupted: processed < pending.length,
    batchSize,
    seconds,
    itemsPerSecond: seconds > 0 ? processed / seconds : 0,
    timings_ms,
  };
}
