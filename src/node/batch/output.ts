/**
 * Where `atelier batch` writes: `--out x.jsonl` (every record, failures included) or `--out x.csv`
 * (Shopify rows for listed items, failures in `x.errors.jsonl` beside it). Opening an existing,
 * non-empty output requires `--resume`, so a rerun never silently appends to or clobbers a file;
 * with it, each file is recovered (a crash-cut tail truncated) and the ids it holds are skipped.
 * An open output holds `<out>.lock` (src/node/lock.ts) until close(): a second process on the same
 * `--out`, resuming or not, is refused instead of listing every item a second time into it.
 */
import { existsSync, statSync } from 'node:fs';
import { lockFile, type WriterLock } from '../lock.ts';
import { CSV_HEADER, SHOPIFY_CSV_FORMAT, csvLine, shopifyRow, type ShopifyOptions } from './csv.ts';
import { JSONL_FORMAT, isFailed, jsonlLine, type BatchRecord } from './jsonl.ts';
import { AppendFile, recoverRecords, type RecordFormat } from './records.ts';

export interface OutputSink {
  /** Ids already in the output when it was opened (empty unless resuming). */
  readonly doneIds: ReadonlySet<string>;
  /** One line per file whose crash-cut tail was dropped on resume. */
  readonly recovered: string[];
  /** The files this output writes to. */
  readonly paths: string[];
  /** Appends one record; it reaches the OS before this returns. */
  write(record: BatchRecord): void;
  /** fsync: called at batch boundaries. */
  sync(): void;
  /** Closes the files and releases the lock. */
  close(): void;
}

export interface OutputOptions {
  resume: boolean;
  shopify?: ShopifyOptions;
}

export function openOutput(path: string, options: OutputOptions): OutputSink {
  const Output = /\.jsonl$/i.test(path) ? JsonlOutput : /\.csv$/i.test(path) ? ShopifyCsvOutput : null;
  if (!Output) throw new Error(`--out '${path}' must end in .jsonl or .csv`);
  // Taken before the file is read: resume's recovery truncates it.
  const lock = lockFile(path);
  try {
    return new Output(path, options, lock);
  } catch (e) {
    lock.release();
    throw e;
  }
}

/** The errors file that accompanies a CSV output. */
export function errorsPathFor(csvPath: string): string {
  return csvPath.replace(/\.csv$/i, '.errors.jsonl');
}

/**
 * Checks that an existing file may be used, recovers it when resuming and collects its ids.
 * Returns whether the file holds any records (a CSV needs its header written when it does not).
 */
function prepare<T>(path: string, format: RecordFormat<T>, options: OutputOptions, ids: Set<string>, idOf: (record: T) => string | null, recovered: string[]): boolean {
  if (!existsSync(path) || statSync(path).size === 0) return false;
  if (!options.resume) throw new Error(`${path} already exists; pass --resume to continue it, or remove it to start over`);
  const result = recoverRecords(path, format, (record) => {
    const id = idOf(record);
    if (id !== null) ids.add(id);
  });
  if (result.droppedRecords > 0) {
    recovered.push(`${path}: dropped ${result.fileBytes - result.validBytes} bytes (${result.droppedRecords} incomplete record${result.droppedRecords > 1 ? 's' : ''}) left by an interrupted write`);
  }
  return result.validBytes > 0;
}

class JsonlOutput implements OutputSink {
  readonly doneIds = new Set<string>();
  readonly recovered: string[] = [];
  readonly paths: string[];
  private readonly file: AppendFile;

  constructor(
    path: string,
    options: OutputOptions,
    private readonly lock: WriterLock,
  ) {
    prepare(path, JSONL_FORMAT, options, this.doneIds, (r) => r.id, this.recovered);
    this.file = new AppendFile(path);
    this.paths = [path];
  }

  write(record: BatchRecord): void {
    this.file.write(jsonlLine(record));
  }

  sync(): void {
    this.file.sync();
  }

  close(): void {
    this.file.close();
    this.lock.release();
  }
}

class ShopifyCsvOutput implements OutputSink {
  readonly doneIds = new Set<string>();
  readonly recovered: string[] = [];
  readonly paths: string[];
  private readonly csv: AppendFile;
  private readonly errorsPath: string;
  /** Opened at the first failure, so a clean run leaves no empty errors file. */
  private errors: AppendFile | null = null;
  private readonly shopify: ShopifyOptions;

  constructor(
    path: string,
    options: OutputOptions,
    private readonly lock: WriterLock,
  ) {
    this.errorsPath = errorsPathFor(path);
    this.shopify = options.shopify ?? {};
    const hasHeader = prepare(path, SHOPIFY_CSV_FORMAT, options, this.doneIds, (sku) => sku, this.recovered);
    const hasErrors = prepare(this.errorsPath, JSONL_FORMAT, options, this.doneIds, (r) => r.id, this.recovered);
    this.csv = new AppendFile(path);
    if (!hasHeader) this.csv.write(CSV_HEADER);
    if (hasErrors) this.errors = new AppendFile(this.errorsPath);
    this.paths = [path, this.errorsPath];
  }

  write(record: BatchRecord): void {
    if (isFailed(record)) {
      this.errors ??= new AppendFile(this.errorsPath);
      this.errors.write(jsonlLine(record));
    } else {
      this.csv.write(csvLine(shopifyRow(record, this.shopify)));
    }
  }

  sync(): void {
    this.csv.sync();
    this.errors?.sync();
  }

  close(): void {
    this.csv.close();
    this.errors?.close();
    this.lock.release();
  }
}
