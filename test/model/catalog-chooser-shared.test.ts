/**
 * The catalog chooser on the shared catalogs and the committed weights: each catalog's validation
 * photos (the trainer's split) should get their own catalog's schema. When the weights carry a
 * fitted chooser, that one is scored; otherwise (weights trained again, head not refitted yet) one
 * is fitted here on a small training sample, the way `atelier catalog-head` does, and scored.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CatalogChooser } from '../../src/model/catalog-chooser.ts';
import { collectChooserSamples, fitChooser, scoreHead, type CatalogSamples } from '../../src/node/catalog-chooser.ts';
import { createListingEngine, type NodeListingEngine } from '../../src/node/engine.ts';
import { PROJECT_ROOT } from '../../src/node/gpu.ts';

const DATA = join(PROJECT_ROOT, '..', 'shared', 'data');
const present = existsSync(join(DATA, 'hm', 'listings.jsonl')) && existsSync(join(DATA, 'myntra', 'listings.jsonl'));
if (!present) console.warn(`skipping the catalog chooser's shared-catalog test: ${DATA} is not there`);

describe.skipIf(!present)('catalog chooser on the shared catalogs', () => {
  let engine: NodeListingEngine;
  let samples: CatalogSamples[];
  beforeAll(async () => {
    engine = await createListingEngine({ batchSize: 32 });
    // 150 validation photos per catalog; 200 training photos when a head must be fitted here.
    samples = await collectChooserSamples(engine.model, [join(DATA, 'myntra'), join(DATA, 'hm')], { trainPerCatalog: 200, valPerCatalog: 150 });
  }, 600_000);
  afterAll(() => engine?.dispose());

  it('>= 95% of each validation split gets its own schema', () => {
    const stored = engine.model.catalogChooser;
    const head = stored instanceof CatalogChooser ? stored.json : fitChooser(engine.model, samples, 'all');
    if (!(stored instanceof CatalogChooser)) console.warn(`the weights' chooser is not usable (${stored}); scoring one fitted on ${samples.map((s) => `${s.train.length} ${s.catalog}`).join(' + ')} training photos`);
    const score = scoreHead(head, samples);
    for (const [catalog, s] of Object.entries(score.perCatalog)) {
      expect(s.photos, catalog).toBe(150);
      expect(s.accuracy, `${catalog}: ${s.correct}/${s.photos}`).toBeGreaterThanOrEqual(0.95);
    }
  });
});
