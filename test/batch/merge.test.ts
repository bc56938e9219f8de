import { appendFileSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { SHOPIFY_CSV_FORMAT } from '../../src/node/batch/csv.ts';
import { mergeOutputs } from '../../src/node/batch/merge.ts';
import { scanRecords } from '../../src/node/batch/records.ts';
import { FakeEngine } from './fake-engine.ts';
import { pngBytes, readJsonlStrict, runJob, useTempDir, writePngFolder } from './fixtures.ts';

describe('atelier merge', () => {
  const tmp = useTempDir('merge');

  /** Two outputs that overlap: b's first five images have a's ids but other (blue) pixels. */
  async function twoParts(dir: string) {
    writePngFolder(join(dir, 'a'), 5);
    writeFileSync(join(dir, 'a', 'broken.png'), 'garbage');
    for (const name of writePngFolder(join(dir, 'b'), 9).slice(0, 5)) writeFileSync(join(dir, 'b', name), pngBytes(2, 2, [0, 0, 255]));
    await runJob(join(dir, 'a'), join(dir, 'a.jsonl'), { engine: new FakeEngine() });
    await runJob(join(dir, 'b'), join(dir, 'b.jsonl'), { engine: new FakeEngine() });
    return [join(dir, 'a.jsonl'), join(dir, 'b.jsonl')];
  }

  it('reports every id found more than once, with its places, and writes nothing by default', async () => {
    const dir = tmp();
    const parts = await twoParts(dir);
    const out = join(dir, 'all.jsonl');
    const report = mergeOutputs(parts, { out, dedupe: false });
    expect(report.duplicates.map((d) => d.id).sort()).toEqual(['img0000.png', 'img0001.png', 'img0002.png', 'img0003.png', 'img0004.png']);
    expect(report.duplicates.find((d) => d.id === 'img0002.png')!.places).toEqual([`${parts[0]}:4`, `${parts[1]}:3`]);
    expect(report.written).toEqual([]);
    expect(existsSync(out)).toBe(false);
  });

  it('with dedupe keeps the first occurrence of each id, in input order', async () => {
    const dir = tmp();
    const parts = await twoParts(dir);
    const out = join(dir, 'all.jsonl');
    const report = mergeOutputs(parts, { out, dedupe: true });
    const records = readJsonlStrict<{ id: string; title?: string; error?: string }>(out);
    expect(records.map((r) => r.id)).toEqual(['broken.png', 'img0000.png', 'img0001.png', 'img0002.png', 'img0003.png', 'img0004.png', 'img0005.png', 'img0006.png', 'img0007.png', 'img0008.png']);
    // The a.jsonl copies won, not the blue b.jsonl ones.
    expect(records.find((r) => r.id === 'img0000.png')!.title).toBe(readJsonlStrict<{ id: string; title: string }>(parts[0]).find((r) => r.id === 'img0000.png')!.title);
    expect(report).toMatchObject({ records: 15, unique: 10, listed: 9, failed: 1, written: [out] });
  });

  it('joins disjoint parts, exports the Shopify CSV with failures beside it, and ignores a cut-off tail with a report', async () => {
    const dir = tmp();
    writePngFolder(join(dir, 'a'), 4);
    writeFileSync(join(dir, 'a', 'broken.png'), 'garbage');
    writePngFolder(join(dir, 'b'), 3, true);
    await runJob(join(dir, 'a'), join(dir, 'a.jsonl'), { engine: new FakeEngine() });
    await runJob(join(dir, 'b'), join(dir, 'b.jsonl'), { engine: new FakeEngine() });
    const bIds = readJsonlStrict<{ id: string }>(join(dir, 'b.jsonl')).map((r) => r.id);
    // b's ids are prefixed to make the parts disjoint, as shards are.
    writeFileSync(join(dir, 'b.jsonl'), readFileSync(join(dir, 'b.jsonl'), 'utf8').replace(/"id":"/g, '"id":"b/'));
    appendFileSync(join(dir, 'b.jsonl'), '{"id":"b/unfinished');

    const out = join(dir, 'all.jsonl');
    const csv = join(dir, 'all.csv');
    const report = mergeOutputs([join(dir, 'a.jsonl'), join(dir, 'b.jsonl')], { out, csv, dedupe: false });
    expect(report.duplicates).toEqual([]);
    expect(report.inputs.map((i) => [i.records, i.droppedTail])).toEqual([[5, 0], [3, 1]]);
    expect(report.written).toEqual([out, csv, join(dir, 'all.errors.jsonl')]);
    expect(readJsonlStrict(out)).toHaveLength(8);
    const skus: string[] = [];
    scanRecords(csv, SHOPIFY_CSV_FORMAT, (sku) => sku !== null && skus.push(sku));
    expect(skus).toEqual(['img0000.png', 'img0001.png', 'img0002.png', 'img0003.png', ...bIds.map((id) => `b/${id}`)]);
    expect(readJsonlStrict<{ id: string }>(join(dir, 'all.errors.jsonl')).map((r) => r.id)).toEqual(['broken.png']);
  });

  it('refuses to overwrite one of its inputs and needs something to write', async () => {
    const dir = tmp();
    const parts = await twoParts(dir);
    expect(() => mergeOutputs(parts, { out: parts[1], dedupe: true })).toThrow(/is both an input and an output/);
    expect(() => mergeOutputs(parts, { dedupe: true })).toThrow(/nothing to write/);
  });
});
