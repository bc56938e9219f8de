/**
 * Fresh weights: a bundle with seeded random parameters for a config, catalogs and tokenizer.
 * Training starts from here; tests and development use it before trained weights exist.
 */
import type { BpeTokenizer } from '../data/tokenizer.ts';
import { seededRandom } from '../data/random.ts';
import { catalogSchema, type CatalogManifest, type ModelBundle, type ModelManifest } from './bundle.ts';
import type { ModelConfig } from './config.ts';
import { initialValues, modelParams } from './params.ts';

export function initialBundle(config: ModelConfig, catalogs: CatalogManifest[], tokenizer: BpeTokenizer, seed = 1, confidenceThreshold = 0.5): ModelBundle {
  const manifest: ModelManifest = {
    format: 'atelier-model',
    version: 1,
    config,
    catalogs,
    confidenceThreshold,
    files: { weights: 'model.safetensors', tokenizer: 'tokenizer.json' },
  };
  const schemas = catalogs.map(catalogSchema);
  const random = seededRandom(seed);
  const params = new Map<string, { shape: number[]; data: Float32Array }>();
  for (const spec of modelParams(config, schemas.map((s) => s.head))) params.set(spec.name, { shape: spec.shape, data: initialValues(spec, random) });
  return { manifest, config, catalogs: schemas, tokenizer, params };
}
