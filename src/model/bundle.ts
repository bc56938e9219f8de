/**
 * A weights folder as the model sees it (browser-safe: callers hand over the bytes).
 *
 *   model.json         manifest: config, per-catalog label spaces, value vocabularies and price
 *                      statistics, file names
 *   model.safetensors  every parameter (F32, or F16 to halve the size), CRC-32 checked
 *   tokenizer.json     the byte-level BPE tokenizer (Hugging Face format)
 *
 * One folder can hold several catalogs' heads over one backbone and decoder.
 */
import { LabelSpace, OTHER, PriceScaler, type LabelSpaceJson, type PriceScalerJson } from '../data/labels.ts';
import { BpeTokenizer } from '../data/tokenizer.ts';
import { fromF16Array, toF16Array } from '../runtime/dtype.ts';
import type { CatalogChooserJson } from './catalog-chooser.ts';
import { validateConfig, type ModelConfig } from './config.ts';
import { mergeVocabularies, type AttributeVocabulary } from './lexicon.ts';
import { modelParams, type HeadLayout } from './params.ts';
import { parseSafetensors, serializeSafetensors, WeightsFormatError, type SafeTensor } from './safetensors.ts';

export const PRICE_OUTPUTS = 3; // point estimate, lower quantile, upper quantile

export interface CatalogManifest {
  name: string;
  labels: LabelSpaceJson;
  price: PriceScalerJson;
  /**
   * Every value of every attribute seen in the training split (`attributeVocabulary`), head class
   * or not: grounded decoding's lexicon is built from it, so it can ban a rare value (folded into
   * the heads' "other") that the evaluation's lexicon reads in text. Absent in manifests written
   * before it existed: then the head classes stand in.
   */
  vocabulary?: Record<string, string[]>;
}

export interface ModelManifest {
  format: 'atelier-model';
  version: 1;
  config: ModelConfig;
  catalogs: CatalogManifest[];
  /** Attributes under this confidence are left out of the decoder's prompt. */
  confidenceThreshold: number;
  files: { weights: string; tokenizer: string };
  /** Free-form provenance: how the weights were trained. */
  training?: Record<string, unknown>;
  /**
   * The catalog chooser behind `--catalog auto` (src/model/catalog-chooser.ts), fitted after
   * training by `atelier catalog-head`. Absent: `auto` falls back to the first catalog.
   */
  catalogChooser?: CatalogChooserJson;
}

export interface CatalogSchema {
  name: string;
  labels: LabelSpace;
  price: PriceScaler;
  head: HeadLayout;
  /** The manifest's vocabulary joined with the head classes (other than "other"). */
  vocabulary: AttributeVocabulary;
}

export interface ModelBundle {
  manifest: ModelManifest;
  config: ModelConfig;
  catalogs: CatalogSchema[];
  tokenizer: BpeTokenizer;
  /** Parameter name -> f32 values. */
  params: Map<string, { shape: number[]; data: Float32Array }>;
}

export function headLayoutOf(name: string, labels: LabelSpace): HeadLayout {
  return {
    catalog: name,
    attributes: labels.toJSON().attributes.map((a) => ({ name: a.name, values: a.classes })),
    priceOutputs: PRICE_OUTPUTS,
  };
}

function checkVocabulary(m: CatalogManifest): AttributeVocabulary {
  const v: unknown = m.vocabulary ?? {};
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new WeightsFormatError(`catalog ${m.name}: vocabulary must map attribute names to lists of values`);
  for (const [attribute, values] of Object.entries(v)) {
    if (!Array.isArray(values) || !values.every((x) => typeof x === 'string')) {
      throw new WeightsFormatError(`catalog ${m.name}: vocabulary.${attribute} must be a list of strings`);
    }
  }
  return v as AttributeVocabulary;
}

export function catalogSchema(m: CatalogManifest): CatalogSchema {
  const labels = LabelSpace.fromJSON(m.labels);
  const head = headLayoutOf(m.name, labels);
  // Every class a head can predict is a value the lexicon must know, whatever the manifest holds.
  const headValues = Object.fromEntries(head.attributes.map((a) => [a.name, a.values.filter((v) => v !== OTHER)]));
  return { name: m.name, labels, price: PriceScaler.fromJSON(m.price), head, vocabulary: mergeVocabularies(headValues, checkVocabulary(m)) };
}

function toF32(t: SafeTensor): Float32Array {
  if (t.dtype === 'F32') return new Float32Array(t.data.slice().buffer);
  if (t.dtype === 'F16') {
    return fromF16Array(new Uint16Array(t.data.slice().buffer));
  }
  throw new WeightsFormatError(`weights must be F32 or F16, got ${t.dtype}`);
}

/** Checks a manifest, the weights against the parameters the config and catalogs imply, and the tokenizer. */
export function parseModelBundle(manifestJson: unknown, weights: Uint8Array, tokenizerJson: unknown, source = 'weights'): ModelBundle {
  const manifest = manifestJson as ModelManifest;
  if (!manifest || manifest.format !== 'atelier-model' || manifest.version !== 1) {
    throw new WeightsFormatError(`${source}/model.json is not an atelier-model manifest (format/version missing)`);
  }
  if (!Array.isArray(manifest.catalogs) || manifest.catalogs.length === 0) throw new WeightsFormatError(`${source}/model.json lists no catalogs`);
  const config = validateConfig(manifest.config);
  const catalogs = manifest.catalogs.map(catalogSchema);
  const tokenizer = BpeTokenizer.fromJSON(tokenizerJson);
  if (tokenizer.vocabSize !== config.decoder.vocabSize) {
    throw new WeightsFormatError(`${source}: tokenizer has ${tokenizer.vocabSize} tokens but the decoder expects ${config.decoder.vocabSize}`);
  }
  const { tensors } = parseSafetensors(weights, `${source}/${manifest.files.weights}`);
  const params = new Map<string, { shape: number[]; data: Float32Array }>();
  const problems: string[] = [];
  for (const spec of modelParams(config, catalogs.map((c) => c.head))) {
    const t = tensors[spec.name];
    if (!t) {
      problems.push(`missing ${spec.name}`);
      continue;
    }
    if (t.shape.join('x') !== spec.shape.join('x')) {
      problems.push(`${spec.name} has shape [${t.shape}] but the config needs [${spec.shape}]`);
      continue;
    }
    params.set(spec.name, { shape: spec.shape, data: toF32(t) });
  }
  const extra = Object.keys(tensors).filter((n) => !params.has(n) && !problems.some((p) => p.includes(n)));
  if (extra.length) problems.push(`unexpected tensors ${extra.slice(0, 5).join(', ')}${extra.length > 5 ? ' …' : ''}`);
  if (problems.length) throw new WeightsFormatError(`${source}: the weights do not match model.json: ${problems.slice(0, 8).join('; ')}`);
  return { manifest, config, catalogs, tokenizer, params };
}

/** The three files of a weights folder. F16 halves the size; loading widens back to f32. */
export function serializeBundle(bundle: ModelBundle, options: { f16?: boolean; training?: Record<string, unknown> } = {}) {
  const tensors: Record<string, SafeTensor> = {};
  for (const [name, p] of bundle.params) {
    const data = options.f16 ? new Uint8Array(toF16Array(p.data).buffer) : new Uint8Array(p.data.buffer.slice(p.data.byteOffset, p.data.byteOffset + p.data.byteLength));
    tensors[name] = { dtype: options.f16 ? 'F16' : 'F32', shape: p.shape, data };
  }
  const manifest: ModelManifest = { ...bundle.manifest, ...(options.training ? { training: options.training } : {}) };
  return {
    manifest,
    weights: serializeSafetensors(tensors, { format: 'atelier-model' }),
    tokenizer: bundle.tokenizer.toJSON(),
  };
}
