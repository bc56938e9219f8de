import { spawn } from 'node:child_process';
import { readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { readCheckpoint } from '../../src/node/checkpoint.ts';
import { PROJECT_ROOT } from '../../src/node/gpu.ts';
import { tempDir } from '../data/fixtures.ts';

/**
 * Killing a training process at any moment must never leave a corrupt checkpoint (issue 5): a child
 * writes checkpoints in a loop and is killed with SIGKILL at a random moment, several times, each
 * kill landing after some number of complete writes and usually inside the next one. After every
 * kill the run folder must hold a whole checkpoint: weights that pass their checksum, optimizer
 * moments and trainer state all from one step, at least as new as the last write reported done.
 */
describe('checkpoints survive SIGKILL', () => {
  const root = tempDir('checkpoint-kill');
  afterAll(() => rmSync(root, { recursive: true, force: true }));

  /** Runs the writer, kills it `delayMs` after its `writes`-th completed checkpoint; returns the last step it reported. */
  function writeThenKill(runDir: string, writes: number, delayMs: number): Promise<number> {
    return new Promise((resolve, reject) => {
      const child = spawn(process.execPath, ['--import', 'tsx', join(PROJECT_ROOT, 'test', 'node', 'checkpoint-writer.ts'), runDir], { cwd: PROJECT_ROOT, stdio: ['ignore', 'pipe', 'inherit'] });
      let reported = 0;
      let seen = 0;
      child.stdout.on('data', (chunk: Buffer) => {
        for (const m of chunk.toString().matchAll(/wrote (\d+)/g)) reported = Number(m[1]);
        if (++seen === writes) setTimeout(() => child.kill('SIGKILL'), delayMs);
      });
      child.on('error', reject);
      child.on('exit', (_code, signal) => (signal === 'SIGKILL' ? resolve(reported) : reject(new Error(`the writer exited by itself (signal ${signal})`))));
    });
  }

  it('leaves a whole checkpoint after each of several kills mid-write', async () => {
    const runDir = join(root, 'run');
    // Delays spread over a write (a tiny-model checkpoint takes tens of milliseconds here).
    for (const [writes, delayMs] of [[1, 0], [2, 7], [1, 19], [3, 31], [1, 3]]) {
      const reported = await writeThenKill(runDir, writes, delayMs);
      const c = readCheckpoint<{ step: number }>(runDir); // throws on a bad checksum or a missing file
      expect(c).not.toBeNull();
      const step = c!.state.step;
      // The newest complete write: the last one reported, or one more that finished unreported.
      expect(step === reported || step === reported + 1).toBe(true);
      expect(c!.optimizer.stepCount).toBe(step);
      expect(c!.optimizer.moments.every((m) => m.m[0] === step && m.v[m.v.length - 1] === step)).toBe(true);
      expect(c!.bundle.params.size).toBeGreaterThan(0);
      // At most the current checkpoint and the leftover of the interrupted write remain.
      expect(readdirSync(join(runDir, 'checkpoints')).length).toBeLessThanOrEqual(2);
    }
  }, 60_000);
});
