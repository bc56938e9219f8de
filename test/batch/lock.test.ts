import { existsSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { completeLines, countIds, readJsonlStrict, startBatchChild, useTempDir, writePngFolder } from './fixtures.ts';

/**
 * One writer per output (issue 15): two `atelier batch` processes on one `--out` (each the real
 * command with the fake engine, test/batch/batch-child.ts). The first is paused with SIGSTOP once it
 * is writing, so the second certainly starts while the first holds the output, whatever the load.
 */
const N = 40;

const startChild = (args: string[]) => startBatchChild(args, { FAKE_DELAY_MS: '10' });

/** Starts a batch and pauses it (SIGSTOP) once it has written a few lines. */
async function startPaused(args: string[], out: string) {
  const first = startChild(args);
  while (completeLines(out) < 4) {
    const early = await Promise.race([first.exited, new Promise((r) => setTimeout(r, 2))]);
    if (early) throw new Error(`the first batch exited before it was paused: ${JSON.stringify(early)}`);
  }
  first.child.kill('SIGSTOP');
  return first;
}

function expectEachInputOnce(out: string, names: string[]): void {
  const counts = countIds(readJsonlStrict<{ id: string }>(out));
  expect([...counts.keys()].sort()).toEqual(names);
  expect([...counts.values()].every((c) => c === 1)).toBe(true);
}

describe('two batch jobs on one output', () => {
  const tmp = useTempDir('batch-lock');

  it.each([
    ['new', []],
    ['--resume', ['--resume']],
  ])('(%s) the second is refused naming the first, which finishes with one line per input', async (_, extra) => {
    const dir = tmp();
    const names = writePngFolder(join(dir, 'in'), N);
    const out = join(dir, 'out.jsonl');
    const args = [join(dir, 'in'), '--out', out, '--batch-size', '2', '--json', ...extra];
    const first = await startPaused(args, out);
    const second = await startChild(args).exited;
    first.child.kill('SIGCONT');
    expect(second.code).toBe(1);
    expect(second.stderr).toContain(`${out} is being written by pid ${first.child.pid} on host ${hostname()} since `);
    expect(second.stderr).toContain('wait for it or stop it');
    expect(second.stdout).toBe(''); // no summary: it did nothing

    const done = await first.exited;
    expect(done.code, done.stderr).toBe(0);
    expect(JSON.parse(done.stdout)).toMatchObject({ done: N, failed: 0 });
    expectEachInputOnce(out, names);
    expect(existsSync(`${out}.lock`)).toBe(false);
  }, 120_000);

  it('after a SIGKILL, --resume takes over the lock with a warning and completes the output', async () => {
    const dir = tmp();
    const names = writePngFolder(join(dir, 'in'), N);
    const out = join(dir, 'out.jsonl');
    const args = [join(dir, 'in'), '--out', out, '--resume', '--batch-size', '2', '--json'];
    const first = await startPaused(args, out);
    first.child.kill('SIGKILL');
    expect((await first.exited).signal).toBe('SIGKILL');
    expect(existsSync(`${out}.lock`)).toBe(true);

    const resumed = await startChild(args).exited;
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(resumed.stderr).toContain(`atelier: ${out}: took over the lock of pid ${first.child.pid} (since `);
    expectEachInputOnce(out, names);
    expect(existsSync(`${out}.lock`)).toBe(false);
  }, 120_000);

  it('shards of one job write different files and never contend', async () => {
    const dir = tmp();
    const names = writePngFolder(join(dir, 'in'), N);
    const parts = [join(dir, 'part-0.jsonl'), join(dir, 'part-1.jsonl')];
    const shardArgs = (k: number) => [join(dir, 'in'), '--out', parts[k], '--shard', `${k}/2`, '--batch-size', '2', '--json'];
    const first = await startPaused(shardArgs(0), parts[0]);
    const second = await startChild(shardArgs(1)).exited; // runs while shard 0 holds its own output
    first.child.kill('SIGCONT');
    expect(second.code, second.stderr).toBe(0);
    const done = await first.exited;
    expect(done.code, done.stderr).toBe(0);
    const counts = countIds(parts.flatMap((p) => readJsonlStrict<{ id: string }>(p)));
    expect([...counts.keys()].sort()).toEqual(names);
    expect([...counts.values()].every((c) => c === 1)).toBe(true);
  }, 120_000);
});
