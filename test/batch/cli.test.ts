import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi, type MockInstance } from 'vitest';
import { UsageError } from '../../src/cli/args.ts';
import { runBatchCommand } from '../../src/cli/batch.ts';
import { main } from '../../src/cli/main.ts';
import { SHOPIFY_COLUMNS, parseCsvRecord } from '../../src/node/batch/csv.ts';
import { inShard } from '../../src/node/batch/shard.ts';
import { FakeEngine } from './fake-engine.ts';
import { readJsonlStrict, useTempDir, writeCatalog } from './fixtures.ts';

describe('atelier batch / merge commands', () => {
  const tmp = useTempDir('cli');
  let stderr: MockInstance;
  let stdout: MockInstance;
  beforeEach(() => {
    stderr = vi.spyOn(console, 'error').mockImplementation(() => {});
    stdout = vi.spyOn(console, 'log').mockImplementation(() => {});
  });
  afterEach(() => vi.restoreAllMocks());
  const printed = (spy: MockInstance) => spy.mock.calls.map((c) => c.join(' ')).join('\n');

  it('are registered, and batch reports missing weights cleanly', async () => {
    const dir = tmp();
    writeCatalog(dir, ['a', 'b']);
    expect(await main(['batch', '--help'])).toBe(0);
    expect(printed(stdout)).toMatch(/usage: atelier batch .*--shard/s);
    expect(await main(['merge', '--help'])).toBe(0);
    expect(await main(['batch', dir, '--out', join(dir, 'out.jsonl'), '--weights', join(dir, 'no-weights')])).toBe(1);
    expect(printed(stderr)).toMatch(/atelier batch: cannot start the listing engine: .*no-weights\/model\.json: file not found/);
  });

  it('lists one shard of a catalog to CSV with a limit, then resumes with nothing left to do without starting the engine', async () => {
    const dir = tmp();
    const ids = Array.from({ length: 30 }, (_, i) => `p${i}`);
    writeCatalog(dir, ids);
    const out = join(dir, 'shard1.csv');
    const args = [dir, '--out', out, '--shard', '1/3', '--limit', '6', '--batch-size', '4', '--vendor', 'Shop', '--json'];
    const engines: FakeEngine[] = [];
    const factory = async (options: { batchSize: number }) => {
      expect(options.batchSize).toBe(4);
      engines.push(new FakeEngine({ maxBatch: 3 }));
      return engines[engines.length - 1];
    };
    expect(await runBatchCommand(args, factory)).toBe(0);
    const summary = JSON.parse(printed(stdout));
    const expected = ids.filter((id) => inShard(id, { index: 1, count: 3 })).slice(0, 6);
    expect(summary).toMatchObject({ items: 6, done: 6, failed: 0, skipped: 0, batchSize: 3, shard: '1/3', inputItems: 30, adapter: 'fake' });
    const skus = readFileSync(out, 'utf8').trim().split('\n').slice(1).map((line) => parseCsvRecord(line)[SHOPIFY_COLUMNS.indexOf('Variant SKU')]);
    expect(skus).toEqual(expected);
    expect(existsSync(join(dir, 'shard1.errors.jsonl'))).toBe(false);
    expect(engines[0].batchSizes).toEqual([3, 3]);
    expect(engines[0].disposed).toBe(true);

    await expect(runBatchCommand(args, factory)).rejects.toThrow(/already exists; pass --resume/);
    stdout.mockClear();
    expect(await runBatchCommand([...args, '--resume'], factory)).toBe(0);
    expect(JSON.parse(printed(stdout))).toMatchObject({ items: 6, skipped: 6, done: 0 });
    expect(engines).toHaveLength(1);
  });

  it('rejects bad options with usage errors', async () => {
    const dir = tmp();
    const factory = async () => new FakeEngine();
    await expect(runBatchCommand([dir], factory)).rejects.toThrow(/--out is required/);
    await expect(runBatchCommand([dir, '--out', 'x.jsonl', '--batch-size', '0'], factory)).rejects.toThrow(/--batch-size must be an integer >= 1/);
    await expect(runBatchCommand([dir, '--out', 'x.jsonl', '--shard', '3/3'], factory)).rejects.toThrow(UsageError);
    await expect(runBatchCommand([dir, dir, '--out', 'x.jsonl'], factory)).rejects.toThrow(/expected one input, got 2/);
    await expect(runBatchCommand([dir, '--out', 'x.jsonl', '--bogus'], factory)).rejects.toThrow(/unknown option --bogus/);
  });

  it('merge exits 1 on duplicate ids and writes with --dedupe', async () => {
    const dir = tmp();
    writeCatalog(dir, ['a', 'b', 'c']);
    const part = join(dir, 'part.jsonl');
    expect(await runBatchCommand([dir, '--out', part], async () => new FakeEngine())).toBe(0);
    const out = join(dir, 'all.jsonl');
    expect(await main(['merge', part, part, '--out', out])).toBe(1);
    expect(printed(stderr)).toMatch(/3 ids occur more than once:\n {2}a: .*part\.jsonl:1, .*part\.jsonl:1/);
    expect(existsSync(out)).toBe(false);
    expect(await main(['merge', part, part, '--out', out, '--dedupe'])).toBe(0);
    expect(readJsonlStrict<{ id: string }>(out).map((r) => r.id)).toEqual(['a', 'b', 'c']);
  });
});
