/**
 * Every failure the data layer reports on purpose is an AtelierDataError with a `kind`, so callers
 * (the CLI, the trainer, a batch job, the browser page) can tell a bad image from a bad CSV without
 * parsing messages. Messages name the file, line or field and the cause.
 */
export type DataErrorKind =
  /** An image file that is missing, empty, of an unknown format, corrupt, truncated or too large. */
  | 'image'
  /** A catalog that cannot be read at all (no listings file, unreadable folder). */
  | 'catalog'
  /** A CSV export or its column mapping. */
  | 'csv'
  /** A tokenizer file or tokenizer training input. */
  | 'tokenizer'
  /** Label vocabularies or price statistics (bad JSON, an attribute that does not exist). */
  | 'labels'
  /** An option value out of range (vocabulary size, split fractions, image size). */
  | 'config';

export class AtelierDataError extends Error {
  readonly kind: DataErrorKind;
  constructor(kind: DataErrorKind, message: string) {
    super(message);
    this.name = 'AtelierDataError';
    this.kind = kind;
  }
}
