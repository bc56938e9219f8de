/**
 * The data layer's browser-safe surface (nothing here imports `node:*`): the catalog row schema,
 * CSV exports, the split, label vocabularies and price targets, image preprocessing and the
 * tokenizer. Disk work (loading catalogs, decoding image files, the tensor store) is in src/node/:
 * catalog.ts, image.ts, image-store.ts and dataset.ts (`prepareDataset`, the one-call entry).
 */
export { AtelierDataError, type DataErrorKind } from './errors.ts';
export { type CatalogItem, type RowProblem, type ParsedListings, isMissingValue, validateListing, parseListings, validateRows, safeRelativePath } from './schema.ts';
export { parseCsv, parseColumnMap, defaultColumnMap, csvToRows, type CsvRecord, type ColumnMap } from './csv.ts';
export { type GroupKey, type SplitConfig, type Split, defaultGroupKey, defaultSplitConfig, groupOf, splitItems } from './split.ts';
export { LabelSpace, PriceScaler, OTHER, MISSING, type LabelOptions, type AttributeVocab, type AttributeSummary, type LabelSpaceJson, type PriceScalerJson } from './labels.ts';
export {
  type PixelImage,
  type Rgb,
  type PreprocessConfig,
  type AugmentConfig,
  type NormaliseConfig,
  DEFAULT_PREPROCESS,
  DEFAULT_AUGMENT,
  DEFAULT_NORMALISE,
  imageBytes,
  checkPreprocessConfig,
  fitImage,
  augmentImage,
  normaliseBatch,
  channelStats,
} from './preprocess.ts';
export { BpeTokenizer, SPECIAL_TOKENS, catalogTexts, type TokenizerTrainOptions, type HfTokenizerJson } from './tokenizer.ts';
export { hashString, unitHash, seededRandom, mix32 } from './random.ts';
