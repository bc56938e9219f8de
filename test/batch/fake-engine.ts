/**
 * A deterministic stand-in for the listing model, for testing the batch job's logic (the model has
 * its own tests): each listing is derived from the image's pixels, so a test can tell which image
 * a listing came from and check that it landed on the right item.
 */
import type { Listing } from '../../src/model/listing.ts';
import type { PixelImage } from '../../src/data/preprocess.ts';
import type { ListingEngine } from '../../src/node/batch/listing-engine.ts';

export interface FakeEngineOptions {
  maxBatch?: number;
  /** Milliseconds each list() call waits, so a crash test can kill the process mid-job. */
  delayMs?: number;
  /** Text appended to every title and description (e.g. quotes, commas, newlines, HTML for the CSV tests). */
  extraText?: string;
  /** Throw from list() on this call number (1-based), to test engine failures. */
  failOnCall?: number;
}

/** Mean red/green/blue of an RGB or RGBA image, rounded. */
export function meanRgb(img: PixelImage): [number, number, number] {
  const sum = [0, 0, 0];
  for (let i = 0; i < img.width * img.height * img.channels; i += img.channels) for (let c = 0; c < 3; c++) sum[c] += img.data[i + c];
  const n = img.width * img.height;
  return [Math.round(sum[0] / n), Math.round(sum[1] / n), Math.round(sum[2] / n)];
}

export function fakeListing(img: PixelImage, extra = ''): Listing {
  const [r, g, b] = meanRgb(img);
  const colour = r >= g && r >= b ? 'Red' : g >= b ? 'Green' : 'Blue';
  return {
    catalog: 'fake',
    attributes: {
      colour: { value: colour, confidence: 0.9 },
      product_type: { value: 'Sweater', confidence: 0.8 },
      pattern: { value: 'Stripe, wide', confidence: 0.3 },
    },
    price: { value: 10 + r / 10, low: 5, high: 30, currency: null },
    title: `${colour} sweater rgb(${r},${g},${b}) ${img.width}x${img.height}${extra}`,
    description: `A ${colour.toLowerCase()} sweater.${extra}`,
    grounding: [],
    timings_ms: {},
  };
}

export class FakeEngine implements ListingEngine {
  readonly maxBatch: number;
  readonly adapterName = 'fake';
  readonly batchSizes: number[] = [];
  disposed = false;

  constructor(private readonly options: FakeEngineOptions = {}) {
    this.maxBatch = options.maxBatch ?? 64;
  }

  async list(images: PixelImage[]): Promise<Listing[]> {
    if (images.length > this.maxBatch) throw new Error(`batch of ${images.length} exceeds maxBatch ${this.maxBatch}`);
    this.batchSizes.push(images.length);
    if (this.options.failOnCall === this.batchSizes.length) throw new Error('device lost');
    if (this.options.delayMs) await new Promise((r) => setTimeout(r, this.options.delayMs));
    return images.map((img) => fakeListing(img, this.options.extraText));
  }

  dispose(): void {
    this.disposed = true;
  }
}
