/**
 * `atelier merge`: joins the JSONL outputs of shard workers into one file and/or exports a Shopify
 * CSV from them. An id found more than once (a shard run twice with different --shard counts, a
 * file passed twice) is reported with every place it occurs; by default nothing is written then,
 * with `dedupe` the first occurrence wins. Inputs are only read — a shard output whose last line
 * is cut short (a worker that crashed and was never resumed) is reported and its tail ignored.
 * Outputs are written to a temporary file and renamed, so a failed merge leaves no half file.
 */
import { renameSync, rmSync } from 'node:fs';
import { resolve } from 'node:path';
import { CSV_HEADER, csvLine, shopifyRow, type ShopifyOptions } from './csv.ts';
import { JSONL_FORMAT, isFailed, jsonlLine, type BatchRecord } from './jsonl.ts';
import { errorsPathFor } from './output.ts';
import { AppendFile, scanRecords } from './records.ts';

export interface MergeOptions {
  /** Merged JSONL. */
  out?: string;
  /** Shopify CSV of the listed items (failures go to its .errors.jsonl). */
  csv?: string;
  /** Keep the first occurrence of a repeated id instead of refusing to write. */
  dedupe: boolean;
  shopify?: ShopifyOptions;
}

export interface MergeReport {
  inputs: { path: string; records: number; droppedTail: number }[];
  /** Records read from all inputs. */
  records: number;
  /** Distinct ids. */
  unique: number;
  /** Distinct ids with a listing / with an error. */
  listed: number;
  failed: number;
  /** Ids found more than once, with every place ("file:line"). */
  duplicates: { id: string; places: string[] }[];
  /** Files written; empty when duplicates stopped the merge. */
  written: string[];
}

export function mergeOutputs(paths: string[], options: MergeOptions): MergeReport {
  if (paths.length === 0) throw new Error('no input files');
  if (!options.out && !options.csv) throw new Error('nothing to write: give --out and/or --csv');
  const targets = [options.out, options.csv, options.csv && errorsPathFor(options.csv)].filter((p): p is string => !!p).map((p) => resolve(p));
  for (const p of paths) if (targets.includes(resolve(p))) throw new Error(`${p} is both an input and an output`);

  // Pass 1: ids, their places, and what the merged output will hold.
  const firstPlace = new Map<string, string>();
  const repeated = new Map<string, string[]>();
  const report: MergeReport = { inputs: [], records: 0, unique: 0, listed: 0, failed: 0, duplicates: [], written: [] };
  for (const path of paths) {
    const scan = scanRecords(path, JSONL_FORMAT, (record, line) => {
      const place = `${path}:${line}`;
      const first = firstPlace.get(record.id);
      if (first === undefined) {
        firstPlace.set(record.id, place);
        if (isFailed(record)) report.failed++;
        else report.listed++;
      } else {
        repeated.set(record.id, [...(repeated.get(record.id) ?? [first]), place]);
      }
    });
    report.inputs.push({ path, records: scan.records, droppedTail: scan.droppedRecords });
    report.records += scan.records;
  }
  report.unique = firstPlace.size;
  report.duplicates = [...repeated].map(([id, places]) => ({ id, places }));
  if (report.duplicates.length > 0 && !options.dedupe) return report;

  // Pass 2: write the first occurrence of every id, in input order.
  const writers: { tmp: string; final: string; file: AppendFile }[] = [];
  const open = (final: string) => {
    const tmp = `${final}.tmp-${process.pid}`;
    rmSync(tmp, { force: true });
    const w = { tmp, final, file: new AppendFile(tmp) };
    writers.push(w);
    return w.file;
  };
  try {
    const jsonl = options.out ? open(options.out) : null;
    const csv = options.csv ? open(options.csv) : null;
    csv?.write(CSV_HEADER);
    const csvErrors = options.csv && report.failed > 0 ? open(errorsPathFor(options.csv)) : null;
    const written = new Set<string>();
    for (const path of paths) {
      scanRecords(path, JSONL_FORMAT, (record: BatchRecord) => {
        if (written.has(record.id)) return;
        written.add(record.id);
        jsonl?.write(jsonlLine(record));
        if (isFailed(record)) csvErrors?.write(jsonlLine(record));
        else csv?.write(csvLine(shopifyRow(record, options.shopify)));
      });
    }
    for (const w of writers) w.file.close();
    for (const w of writers) renameSync(w.tmp, w.final);
    // A previous merge's errors file would otherwise sit beside a CSV it does not belong to.
    if (options.csv && !csvErrors) rmSync(errorsPathFor(options.csv), { force: true });
  } catch (e) {
    for (const w of writers) {
      w.file.close();
      rmSync(w.tmp, { force: true });
    }
    throw e;
  }
  report.written = writers.map((w) => w.final);
  return report;
}
