import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { completeLines, countIds, readJsonlStrict, startBatchChild, useTempDir, writePngFolder } from './fixtures.ts';

const N = 60;

const startChild = (args: string[]) => startBatchChild(args, { FAKE_DELAY_MS: '15', FAKE_TEXT_BYTES: '20000' });

describe('kill -9 of a running batch', () => {
  const tmp = useTempDir('kill');

  it('on SIGTERM (a pod eviction) finishes the batch in progress, says so, exits 143, and a resume completes', async () => {
    const dir = tmp();
    const names = writePngFolder(join(dir, 'in'), N);
    const out = join(dir, 'out.jsonl');
    const args = [join(dir, 'in'), '--out', out, '--resume', '--batch-size', '4', '--json'];
    const { child, exited } = startChild(args);
    while (completeLines(out) < 6) await new Promise((r) => setTimeout(r, 2));
    child.kill('SIGTERM');
    const stopped = await exited;
    expect(stopped.code).toBe(143);
    const summary = JSON.parse(stopped.stdout);
    expect(summary).toMatchObject({ interrupted: true });
    expect(summary.done % 4).toBe(0); // whole batches only
    expect(summary.remaining).toBe(N - summary.done);
    expect(readJsonlStrict(out)).toHaveLength(summary.done);
    expect(stopped.stderr).toMatch(/SIGTERM: stopping after the current batch/);
    expect(existsSync(`${out}.lock`)).toBe(false); // released on the way out, not left to a takeover

    const final = await startChild(args).exited;
    expect(final.code, final.stderr).toBe(0);
    expect(countIds(readJsonlStrict<{ id: string }>(out)).size).toBe(names.length);
    expect(readJsonlStrict(out)).toHaveLength(N);
  });

  it('resumes after repeated SIGKILLs with every item exactly once and no corrupt line', async () => {
    const dir = tmp();
    const names = writePngFolder(join(dir, 'in'), N, true);
    const out = join(dir, 'out.jsonl');
    const args = [join(dir, 'in'), '--out', out, '--resume', '--batch-size', '3', '--json'];

    for (let round = 0; round < 3; round++) {
      const before = completeLines(out);
      const { child, exited } = startChild(args);
      // Kill once this run has written a few more items, at whatever point it has reached.
      while (completeLines(out) < before + 4 + round * 3) {
        const early = await Promise.race([exited, new Promise((r) => setTimeout(r, 2))]);
        if (early) throw new Error(`the child exited before it was killed: ${JSON.stringify(early)}`);
      }
      child.kill('SIGKILL');
      const { signal } = await exited;
      expect(signal).toBe('SIGKILL');
      expect(completeLines(out)).toBeLessThan(N);
    }

    const { exited } = startChild(args);
    const final = await exited;
    expect(final.code, final.stderr).toBe(0);
    const summary = JSON.parse(final.stdout);
    expect(summary.skipped + summary.done).toBe(N);
    expect(summary.failed).toBe(0);

    const records = readJsonlStrict<{ id: string; title: string }>(out);
    const counts = countIds(records);
    expect([...counts.keys()].sort()).toEqual(names);
    expect([...counts.values()].every((c) => c === 1)).toBe(true);
    expect(records.every((r) => r.title.startsWith('Red') || r.title.startsWith('Green') || r.title.startsWith('Blue'))).toBe(true);
  });
});
