import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readBatchInput } from '../../src/node/batch/inputs.ts';
import { runBatchJob } from '../../src/node/batch/job.ts';
import { openOutput } from '../../src/node/batch/output.ts';
import { inShard } from '../../src/node/batch/shard.ts';
import { PROJECT_ROOT } from '../../src/node/gpu.ts';
import { FakeEngine } from './fake-engine.ts';
import { readJsonlStrict, useTempDir } from './fixtures.ts';

const DATA = join(PROJECT_ROOT, '..', 'shared', 'data');
const present = existsSync(join(DATA, 'hm', 'listings.jsonl')) && existsSync(join(DATA, 'myntra', 'listings.jsonl'));
if (!present) console.warn(`skipping the shared-catalog batch tests: ${DATA} is not there`);

describe.skipIf(!present)('batch over the shared catalogs', () => {
  const tmp = useTempDir('shared');

  it.each([
    ['hm', 22_332],
    ['myntra', 39_599],
  ])('%s: enumerates every item, and 4 shards partition it', async (name, count) => {
    const input = await readBatchInput(join(DATA, name));
    expect(input.kind).toBe('listings');
    expect(input.problems).toEqual([]);
    expect(input.items).toHaveLength(count);
    const sizes = [0, 1, 2, 3].map((k) => input.items.filter((it) => inShard(it.id, { index: k, count: 4 })).length);
    expect(sizes.reduce((a, b) => a + b, 0)).toBe(count);
    for (const s of sizes) expect(Math.abs(s - count / 4)).toBeLessThan(0.03 * count);
  });

  it('decodes real catalog JPEGs and lists them', async () => {
    const input = await readBatchInput(join(DATA, 'hm'));
    const items = input.items.filter((it) => inShard(it.id, { index: 0, count: 500 }));
    const out = join(tmp(), 'hm.jsonl');
    const output = openOutput(out, { resume: false });
    const summary = await runBatchJob({ items, engine: new FakeEngine(), output, batchSize: 8 });
    output.close();
    expect(summary).toMatchObject({ done: items.length, failed: 0 });
    const records = readJsonlStrict<{ id: string; title: string; error?: string }>(out);
    expect(records.map((r) => r.id)).toEqual(items.map((it) => it.id));
    // H&M photos are 128x192; the fake title ends with the decoded size.
    expect(records.every((r) => r.title.endsWith(' 128x192'))).toBe(true);
  });
});
