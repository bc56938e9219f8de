import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { mergeOutputs } from '../../src/node/batch/merge.ts';
import { inShard, parseShard, shardOf } from '../../src/node/batch/shard.ts';
import { FakeEngine } from './fake-engine.ts';
import { countIds, readJsonlStrict, runJob, useTempDir, writePngFolder } from './fixtures.ts';
import { readBatchInput } from '../../src/node/batch/inputs.ts';
import { runBatchJob } from '../../src/node/batch/job.ts';
import { openOutput } from '../../src/node/batch/output.ts';

describe('--shard k/n', () => {
  const tmp = useTempDir('shard');
  const ids = Array.from({ length: 1000 }, (_, i) => (i % 3 === 0 ? `images/${i}.jpg` : `0${108775000 + i * 7}`));

  it.each([1, 2, 3, 7, 16, 64])('n=%i: every id falls in exactly one shard, and the shards are balanced', (n) => {
    const sizes = new Array(n).fill(0);
    for (const id of ids) {
      const owners = Array.from({ length: n }, (_, k) => k).filter((k) => inShard(id, { index: k, count: n }));
      expect(owners).toEqual([shardOf(id, n)]);
      sizes[owners[0]]++;
    }
    expect(sizes.reduce((a, b) => a + b, 0)).toBe(ids.length);
    // A uniform hash gives each shard about 1000/n; allow wide binomial spread, but no empty or doubled shard.
    const expected = ids.length / n;
    for (const s of sizes) expect(Math.abs(s - expected)).toBeLessThan(5 * Math.sqrt(expected) + 1);
  });

  it('depends on the id only, not on the order or the other items', () => {
    const reversed = [...ids].reverse();
    expect(ids.filter((id) => inShard(id, { index: 2, count: 5 }))).toEqual(reversed.filter((id) => inShard(id, { index: 2, count: 5 })).reverse());
  });

  it('is a fixed contract: the first 4 bytes of SHA-256 of the id, modulo n (workers of different builds agree)', () => {
    // Expected values from coreutils: printf %s ID | sha256sum, first 8 hex digits, modulo n.
    expect(shardOf('0108775015', 7)).toBe(0xce60972d % 7);
    expect(shardOf('0108775015', 1000)).toBe(653);
    expect(shardOf('images/12.jpg', 7)).toBe(5);
    expect(shardOf('sub0/img0003.png', 1000)).toBe(421);
  });

  it('parses k/n and names what is wrong with bad values', () => {
    expect(parseShard('3/8')).toEqual({ index: 3, count: 8 });
    expect(parseShard(' 0/1 ')).toEqual({ index: 0, count: 1 });
    expect(() => parseShard('8/8')).toThrow(/counts from 0 and must be below 8/);
    expect(() => parseShard('1/0')).toThrow(/at least 1/);
    expect(() => parseShard('2')).toThrow(/must look like k\/n/);
    expect(() => parseShard('-1/4')).toThrow(/must look like k\/n/);
  });

  it('n workers over a folder, merged, list every image exactly once', async () => {
    const dir = tmp();
    const names = writePngFolder(join(dir, 'in'), 40, true);
    const { items } = await readBatchInput(join(dir, 'in'));
    const n = 3;
    const outs: string[] = [];
    for (let k = 0; k < n; k++) {
      const out = join(dir, `part-${k}.jsonl`);
      const output = openOutput(out, { resume: false });
      await runBatchJob({ items: items.filter((it) => inShard(it.id, { index: k, count: n })), engine: new FakeEngine(), output, batchSize: 4 });
      output.close();
      outs.push(out);
    }
    const report = mergeOutputs(outs, { out: join(dir, 'all.jsonl'), dedupe: false });
    expect(report.duplicates).toEqual([]);
    const counts = countIds(readJsonlStrict<{ id: string }>(join(dir, 'all.jsonl')));
    expect([...counts.keys()].sort()).toEqual(names);
    expect([...counts.values()].every((c) => c === 1)).toBe(true);
    // Same partition as a single unsharded run.
    await runJob(join(dir, 'in'), join(dir, 'single.jsonl'), { engine: new FakeEngine() });
    const single = readJsonlStrict<{ id: string; title: string }>(join(dir, 'single.jsonl'));
    const merged = new Map(readJsonlStrict<{ id: string; title: string }>(join(dir, 'all.jsonl')).map((r) => [r.id, r.title]));
    for (const r of single) expect(merged.get(r.id)).toBe(r.title);
  });
});
