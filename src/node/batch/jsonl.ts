/**
 * The batch job's records and their JSONL form: one JSON object per line, `id` and `image` first,
 * then either the listing's fields (src/model/listing.ts) or `error` for an item that could not be
 * listed (an unreadable image). The same lines are what `atelier merge` joins.
 */
import type { Listing } from '../../model/listing.ts';
import { CorruptRecordError, type RecordFormat } from './records.ts';

export type ListedRecord = { id: string; image: string } & Listing;
export interface FailedRecord {
  id: string;
  image: string;
  /** Why the item has no listing, e.g. "cannot decode PNG: ...". */
  error: string;
}
export type BatchRecord = ListedRecord | FailedRecord;

export function isFailed(record: BatchRecord): record is FailedRecord {
  return typeof (record as FailedRecord).error === 'string';
}

export function jsonlLine(record: BatchRecord): string {
  return `${JSON.stringify(record)}\n`;
}

const NEWLINE = 0x0a;

export const JSONL_FORMAT: RecordFormat<BatchRecord> = {
  name: 'JSONL',
  boundaries: () => (buf, from) => buf.indexOf(NEWLINE, from),
  parse(text) {
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch (e) {
      throw new CorruptRecordError(`not valid JSON: ${(e as Error).message}`);
    }
    const record = value as Partial<BatchRecord> | null;
    if (typeof record !== 'object' || record === null || typeof record.id !== 'string' || typeof record.image !== 'string') {
      throw new Error('not a batch record (an object with string "id" and "image")');
    }
    return record as BatchRecord;
  },
  isOurs: (head) => head.startsWith('{"id":'),
};
