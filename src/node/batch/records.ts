/**
 * Append-only record files that survive `kill -9` and power loss, shared by the JSONL and CSV
 * outputs.
 *
 * Writing: each record is one `write` of its complete text, newline included, straight to the file
 * descriptor (no user-space buffer), so a killed process loses at most the record being written;
 * `sync()` (fsync) runs at batch boundaries so a power cut loses at most the last batch.
 *
 * Reading back (resume, merge): a record ends at a record boundary. After a crash the file can end
 * in an unterminated record (a write cut short: Linux stops a large write at a page boundary when
 * SIGKILL arrives) or, after a power cut, in one record of garbage. Both are dropped — resume
 * truncates the file to the last good record — and those items are simply listed again. A bad
 * record *followed by* good ones is not a crash artefact: the file was edited or damaged, and we
 * stop rather than guess. A file that does not look like ours at all is never truncated.
 */
import { closeSync, fsyncSync, openSync, readSync, statSync, truncateSync, writeSync } from 'node:fs';

/** A record that is unreadable in a way a crash can cause (cut short, garbled): droppable at the end of a file. */
export class CorruptRecordError extends Error {}

export interface RecordFormat<T> {
  /** For messages: "JSONL", "CSV". */
  name: string;
  /**
   * Returns a function that finds the end of the next record in `buf` from `from`: the index of its
   * terminating byte, or -1 if the buffer ends first. It may keep state between calls (CSV tracks
   * whether it is inside quotes), so a fresh one is made per file.
   */
  boundaries(): (buf: Buffer, from: number) => number;
  /**
   * Parses one record's text (without its terminator). Throws CorruptRecordError for damage a crash
   * explains, any other Error for content that is wrong (a foreign file, a header that does not match).
   */
  parse(text: string, recordNo: number): T;
  /** Whether a file that starts with `head` was written in this format (used before truncating it). */
  isOurs(head: string): boolean;
}

export interface ScanResult {
  /** Good records read. */
  records: number;
  /** Bytes up to the end of the last good record. */
  validBytes: number;
  fileBytes: number;
  /** Records after `validBytes` that are dropped: an unterminated tail and/or one corrupt record. */
  droppedRecords: number;
}

const CHUNK = 1 << 20;

/**
 * Reads every record of `path` in order, calling `onRecord` for the good ones, and says where the
 * good part of the file ends. Throws when damage is not confined to the end of the file.
 */
export function scanRecords<T>(path: string, format: RecordFormat<T>, onRecord: (record: T, recordNo: number) => void): ScanResult {
  const fd = openSync(path, 'r');
  const fileBytes = statSync(path).size;
  const nextBoundary = format.boundaries();
  let records = 0;
  let validBytes = 0;
  let recordNo = 0;
  /** The first corrupt record not yet known to be the last one. */
  let pendingCorrupt: { recordNo: number; reason: string } | null = null;
  let partial: Buffer[] = [];
  const chunk = Buffer.allocUnsafe(CHUNK);
  try {
    for (let offset = 0; ; ) {
      const n = readSync(fd, chunk, 0, CHUNK, offset);
      if (n === 0) break;
      const buf = chunk.subarray(0, n);
      let start = 0;
      for (let end = nextBoundary(buf, 0); end !== -1; end = nextBoundary(buf, end + 1)) {
        partial.push(buf.subarray(start, end));
        const text = Buffer.concat(partial).toString('utf8');
        partial = [];
        start = end + 1;
        recordNo++;
        let record: T;
        try {
          record = format.parse(text, recordNo);
        } catch (e) {
          if (!(e instanceof CorruptRecordError)) throw new Error(`${path}: record ${recordNo}: ${(e as Error).message}`);
          if (pendingCorrupt) {
            throw new Error(
              `${path}: records ${pendingCorrupt.recordNo} and ${recordNo} are corrupt (${pendingCorrupt.reason}); ` +
                `a crash leaves at most one — not touching the file`,
            );
          }
          pendingCorrupt = { recordNo, reason: e.message };
          continue;
        }
        if (pendingCorrupt) {
          throw new Error(
            `${path}: record ${pendingCorrupt.recordNo} is corrupt (${pendingCorrupt.reason}) but later records are intact — ` +
              `the file was edited or damaged, not cut short by a crash; repair or remove that record and rerun`,
          );
        }
        onRecord(record, recordNo);
        records++;
        validBytes = offset + end + 1;
      }
      // Copy: `chunk` is reused for the next read.
      partial.push(Buffer.from(buf.subarray(start)));
      offset += n;
    }
  } finally {
    closeSync(fd);
  }
  const tailBytes = fileBytes - validBytes;
  const droppedRecords = (pendingCorrupt ? 1 : 0) + (partial.some((p) => p.length > 0) ? 1 : 0);
  if (tailBytes > 0 && records === 0 && !format.isOurs(readHead(path))) {
    throw new Error(`${path} is not ${format.name} written by atelier batch; not touching it`);
  }
  return { records, validBytes, fileBytes, droppedRecords };
}

function readHead(path: string): string {
  const fd = openSync(path, 'r');
  try {
    const buf = Buffer.alloc(4096);
    return buf.subarray(0, readSync(fd, buf, 0, buf.length, 0)).toString('utf8');
  } finally {
    closeSync(fd);
  }
}

/** scanRecords, then cuts the file back to its last good record so appending continues cleanly. */
export function recoverRecords<T>(path: string, format: RecordFormat<T>, onRecord: (record: T, recordNo: number) => void): ScanResult {
  const result = scanRecords(path, format, onRecord);
  if (result.validBytes < result.fileBytes) truncateSync(path, result.validBytes);
  return result;
}

/** An append-only file written record by record through the file descriptor. */
export class AppendFile {
  private fd: number | null;

  constructor(readonly path: string) {
    this.fd = openSync(path, 'a');
  }

  /** Writes the whole text (one record, terminator included); it reaches the OS before this returns. */
  write(text: string): void {
    if (this.fd === null) throw new Error(`${this.path} is closed`);
    const bytes = Buffer.from(text, 'utf8');
    for (let done = 0; done < bytes.length; ) done += writeSync(this.fd, bytes, done, bytes.length - done);
  }

  /** Forces written records to disk (fsync). */
  sync(): void {
    if (this.fd !== null) fsyncSync(this.fd);
  }

  close(): void {
    if (this.fd === null) return;
    fsyncSync(this.fd);
    closeSync(this.fd);
    this.fd = null;
  }
}
