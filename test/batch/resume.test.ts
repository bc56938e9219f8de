import { appendFileSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { SHOPIFY_CSV_FORMAT } from '../../src/node/batch/csv.ts';
import { scanRecords } from '../../src/node/batch/records.ts';
import { FakeEngine, fakeListing } from './fake-engine.ts';
import { countIds, pngBytes, readJsonlStrict, runJob, useTempDir, writePngFolder } from './fixtures.ts';
import { PNG } from 'pngjs';

const N = 23;

describe('resume after a crash', () => {
  const tmp = useTempDir('resume');

  function expectEachOnce(records: { id: string }[], names: string[]) {
    const counts = countIds(records);
    expect([...counts.keys()].sort()).toEqual(names);
    expect([...counts.values()].every((c) => c === 1)).toBe(true);
  }

  it('drops a partial last line, keeps the complete ones byte for byte, and lists every item exactly once', async () => {
    const dir = tmp();
    const names = writePngFolder(join(dir, 'in'), N);
    const full = join(dir, 'full.jsonl');
    await runJob(join(dir, 'in'), full, { engine: new FakeEngine(), batchSize: 4 });
    const lines = readFileSync(full, 'utf8').split('\n');

    // The state a crash leaves: 9 complete lines, then the 10th cut in the middle of a string.
    const out = join(dir, 'out.jsonl');
    const kept = lines.slice(0, 9).join('\n') + '\n';
    writeFileSync(out, kept + lines[9].slice(0, Math.floor(lines[9].length / 2)));

    const summary = await runJob(join(dir, 'in'), out, { engine: new FakeEngine(), resume: true, batchSize: 4 });
    expect(summary).toMatchObject({ items: N, skipped: 9, done: N - 9, failed: 0, remaining: 0, interrupted: false });
    const text = readFileSync(out, 'utf8');
    expect(text.startsWith(kept)).toBe(true);
    const records = readJsonlStrict<{ id: string; title: string }>(out);
    expectEachOnce(records, names);
    // The resumed lines are the same listings a clean run produced.
    expect(new Set(text.split('\n'))).toEqual(new Set(lines));
  });

  it('drops one garbled complete last line (a power cut) but refuses damage followed by intact lines', async () => {
    const dir = tmp();
    const names = writePngFolder(join(dir, 'in'), 10);
    const out = join(dir, 'out.jsonl');
    await runJob(join(dir, 'in'), out, { engine: new FakeEngine(), batchSize: 3 });
    const lines = readFileSync(out, 'utf8').split('\n').slice(0, -1);

    writeFileSync(out, lines.slice(0, 6).join('\n') + '\n\u0000\u0000\u0000{"id":"img\n');
    const summary = await runJob(join(dir, 'in'), out, { engine: new FakeEngine(), resume: true });
    expect(summary).toMatchObject({ skipped: 6, done: 4 });
    expectEachOnce(readJsonlStrict(out), names);

    const damaged = [...lines.slice(0, 3), '{"id": broken', ...lines.slice(3)].join('\n') + '\n';
    writeFileSync(out, damaged);
    await expect(runJob(join(dir, 'in'), out, { engine: new FakeEngine(), resume: true })).rejects.toThrow(/record 4 is corrupt .* later records are intact/);
    expect(readFileSync(out, 'utf8')).toBe(damaged);
  });

  it('survives a crash during the very first write, and refuses to resume into a file that is not its own', async () => {
    const dir = tmp();
    const names = writePngFolder(join(dir, 'in'), 5);
    const out = join(dir, 'out.jsonl');
    writeFileSync(out, '{"id":"img0000.png","ima');
    await runJob(join(dir, 'in'), out, { engine: new FakeEngine(), resume: true });
    expectEachOnce(readJsonlStrict(out), names);

    const foreign = join(dir, 'notes.jsonl');
    writeFileSync(foreign, 'my own notes, no newline at the end');
    await expect(runJob(join(dir, 'in'), foreign, { engine: new FakeEngine(), resume: true })).rejects.toThrow(/not JSONL written by atelier batch/);
    expect(readFileSync(foreign, 'utf8')).toBe('my own notes, no newline at the end');
  });

  it('refuses an existing output without --resume', async () => {
    const dir = tmp();
    writePngFolder(join(dir, 'in'), 3);
    const out = join(dir, 'out.jsonl');
    await runJob(join(dir, 'in'), out, { engine: new FakeEngine() });
    await expect(runJob(join(dir, 'in'), out, { engine: new FakeEngine() })).rejects.toThrow(/already exists; pass --resume/);
  });

  it('stops after the batch in progress when aborted, and a resume finishes the job', async () => {
    const dir = tmp();
    const names = writePngFolder(join(dir, 'in'), N);
    const out = join(dir, 'out.jsonl');
    const stop = new AbortController();
    const engine = new FakeEngine();
    const original = engine.list.bind(engine);
    engine.list = async (images) => {
      if (engine.batchSizes.length === 2) stop.abort(); // during the third call
      return original(images);
    };
    const first = await runJob(join(dir, 'in'), out, { engine, batchSize: 5, signal: stop.signal });
    expect(first).toMatchObject({ done: 15, remaining: N - 15, interrupted: true });
    const second = await runJob(join(dir, 'in'), out, { engine: new FakeEngine(), resume: true, batchSize: 5 });
    expect(second).toMatchObject({ skipped: 15, done: N - 15, interrupted: false });
    expectEachOnce(readJsonlStrict(out), names);
  });

  it('keeps the output intact when the engine fails, so a resume can finish', async () => {
    const dir = tmp();
    const names = writePngFolder(join(dir, 'in'), 12);
    const out = join(dir, 'out.jsonl');
    await expect(runJob(join(dir, 'in'), out, { engine: new FakeEngine({ failOnCall: 2 }), batchSize: 4 })).rejects.toThrow(
      /engine failed on the batch starting at 'img0004.png': device lost .*4 items written/,
    );
    expect(readJsonlStrict(out)).toHaveLength(4);
    await runJob(join(dir, 'in'), out, { engine: new FakeEngine(), resume: true, batchSize: 4 });
    expectEachOnce(readJsonlStrict(out), names);
  });

  it('resumes a Shopify CSV cut inside a quoted multi-line field', async () => {
    const dir = tmp();
    const names = writePngFolder(join(dir, 'in'), 9);
    const out = join(dir, 'out.csv');
    const engine = () => new FakeEngine({ extraText: ' "quoted", with commas\nAnd a line.' });
    await runJob(join(dir, 'in'), out, { engine: engine(), batchSize: 2 });
    const bytes = readFileSync(out);
    // Cut inside the 6th product row, just after the newline inside its quoted title.
    const recordEnd = SHOPIFY_CSV_FORMAT.boundaries();
    let rowStart = 0;
    for (let row = 0; row < 6; row++) rowStart = recordEnd(bytes, rowStart) + 1;
    const cut = bytes.indexOf('And a line', rowStart);
    expect(cut).toBeGreaterThan(rowStart);
    expect(cut).toBeLessThan(recordEnd(bytes, rowStart));
    writeFileSync(out, bytes.subarray(0, cut));

    const summary = await runJob(join(dir, 'in'), out, { engine: engine(), resume: true, batchSize: 2 });
    expect(summary).toMatchObject({ skipped: 5, done: 4 });
    const skus: string[] = [];
    scanRecords(out, SHOPIFY_CSV_FORMAT, (sku) => sku !== null && skus.push(sku));
    expect(skus.sort()).toEqual(names);
    expect(readFileSync(out)).toEqual(bytes);
  });

  it('resumes the errors file of a CSV output too', async () => {
    const dir = tmp();
    writePngFolder(join(dir, 'in'), 4);
    writeFileSync(join(dir, 'in', 'broken.png'), pngBytes(4, 4, [1, 2, 3]).subarray(0, 30));
    const out = join(dir, 'out.csv');
    await runJob(join(dir, 'in'), out, { engine: new FakeEngine() });
    appendFileSync(join(dir, 'out.errors.jsonl'), '{"id":"half');
    const summary = await runJob(join(dir, 'in'), out, { engine: new FakeEngine(), resume: true });
    expect(summary).toMatchObject({ skipped: 5, done: 0, failed: 0 });
    expect(readJsonlStrict(join(dir, 'out.errors.jsonl'))).toEqual([{ id: 'broken.png', image: 'broken.png', error: expect.stringMatching(/PNG/) }]);
  });

  it('writes each item the listing of its own image, and accepts an empty existing output without --resume', async () => {
    const dir = tmp();
    writePngFolder(join(dir, 'in'), 6);
    const out = join(dir, 'out.jsonl');
    writeFileSync(out, '');
    await runJob(join(dir, 'in'), out, { engine: new FakeEngine(), batchSize: 4 });
    for (const r of readJsonlStrict<{ id: string; title: string }>(out)) {
      const img = PNG.sync.read(readFileSync(join(dir, 'in', r.id)));
      expect(r.title).toBe(fakeListing({ width: img.width, height: img.height, channels: 4, data: img.data }).title);
    }
  });
});
