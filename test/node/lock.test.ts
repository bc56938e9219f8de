import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { PROJECT_ROOT } from '../../src/node/gpu.ts';
import { lockFile, lockFolder } from '../../src/node/lock.ts';
import { DEFAULT_SETTINGS, train } from '../../src/train/trainer.ts';
import { tempDir } from '../data/fixtures.ts';

/**
 * One writer at a time (issue 15): the lock of src/node/lock.ts between processes — a race of
 * several for one lock, the takeover of a lock whose process was SIGKILLed (raced too), release
 * on a signal — and in one process: the messages, a read-only folder, and the trainer's run folder.
 */
const CHILD = join(PROJECT_ROOT, 'test', 'node', 'lock-child.ts');

function startChild(kind: 'file' | 'folder', target: string, go: string, holdMs: number) {
  const child = spawn(process.execPath, ['--import', 'tsx', CHILD, kind, target, go, String(holdMs)], { cwd: PROJECT_ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  const waiters: (() => void)[] = [];
  child.stdout.on('data', (d) => {
    stdout += d;
    for (const w of waiters) w();
  });
  child.stderr.on('data', (d) => (stderr += d));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }>((resolve) =>
    child.on('exit', (code, signal) => resolve({ code, signal, stdout, stderr })),
  );
  /** Resolves once the child has printed `text`. */
  const printed = (text: string) =>
    new Promise<void>((resolve, reject) => {
      const check = () => stdout.includes(text) && resolve();
      waiters.push(check);
      check();
      exited.then((r) => reject(new Error(`the child exited before printing '${text}': ${JSON.stringify(r)}`)));
    });
  return { child, exited, printed };
}

/** Starts `n` children that all try to take the lock at the same instant; the winner holds it for `holdMs`. */
async function race(n: number, kind: 'file' | 'folder', target: string, go: string, holdMs: number) {
  const children = Array.from({ length: n }, () => startChild(kind, target, go, holdMs));
  await Promise.all(children.map((c) => c.printed('ready')));
  writeFileSync(go, '');
  const results = await Promise.all(children.map((c) => c.exited));
  return children.map((c, i) => ({ pid: c.child.pid!, ...results[i] }));
}

describe('the writer lock', () => {
  const root = tempDir('lock');
  afterAll(() => rmSync(root, { recursive: true, force: true }));
  let n = 0;
  const fresh = () => {
    const dir = join(root, String(n++));
    mkdirSync(dir);
    return dir;
  };

  it('refuses a second holder with a message naming the first, until released', () => {
    const out = join(fresh(), 'out.jsonl');
    const lock = lockFile(out);
    expect(lock.path).toBe(`${out}.lock`);
    expect(() => lockFile(out)).toThrow(
      new RegExp(`^${out} is being written by pid ${process.pid} on host ${hostname()} since \\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d; wait for it or stop it \\(lock: ${out}\\.lock\\)$`),
    );
    lock.release();
    lock.release(); // a second release does nothing
    expect(existsSync(`${out}.lock`)).toBe(false);
    lockFile(out).release();
  });

  it('never takes over the lock of another host, whose pid means nothing here', () => {
    const dir = fresh();
    writeFileSync(join(dir, '.lock'), JSON.stringify({ pid: 999_999_999, hostname: 'elsewhere', started: new Date().toISOString() }));
    expect(() => lockFolder(dir)).toThrow(/is being written by pid 999999999 on host elsewhere since/);
  });

  it('of six processes racing for one lock, exactly one wins and the others name it', async () => {
    const dir = fresh();
    const target = join(dir, 'out.jsonl');
    const results = await race(6, 'file', target, join(dir, 'go'), 3000);
    const winners = results.filter((r) => r.code === 0);
    expect(winners, JSON.stringify(results)).toHaveLength(1);
    expect(winners[0].stdout).toMatch(/locked/);
    for (const r of results.filter((r) => r !== winners[0])) {
      expect(r.code).toBe(3);
      expect(r.stdout).toContain(`refused: ${target} is being written by pid ${winners[0].pid} on host ${hostname()}`);
    }
    expect(readdirSync(dir).sort()).toEqual(['go']); // released, no leftovers
  }, 60_000);

  it('a lock left by a SIGKILLed process is taken over with a warning, by exactly one of six racers', async () => {
    const dir = fresh();
    const run = join(dir, 'run');
    mkdirSync(run);
    const go = join(dir, 'go');
    const holder = startChild('folder', run, go, 600_000);
    await holder.printed('ready');
    writeFileSync(go, '');
    await holder.printed('locked');
    holder.child.kill('SIGKILL');
    expect((await holder.exited).signal).toBe('SIGKILL');
    expect(existsSync(join(run, '.lock'))).toBe(true);

    rmSync(go);
    const results = await race(6, 'folder', run, go, 3000);
    const winners = results.filter((r) => r.code === 0);
    expect(winners, JSON.stringify(results)).toHaveLength(1);
    expect(winners[0].stderr).toContain(`atelier: ${run}: took over the lock of pid ${holder.child.pid} (since `);
    for (const r of results.filter((r) => r !== winners[0])) {
      expect(r.stdout).toContain(`refused: ${run} is being written by pid ${winners[0].pid}`);
      expect(r.stderr).not.toMatch(/took over/);
    }
    expect(readdirSync(run)).toEqual([]); // no lock, no claim, no temporary file left
  }, 60_000);

  it('is released when a process without its own handler gets SIGTERM, which still ends it', async () => {
    const dir = fresh();
    const go = join(dir, 'go');
    writeFileSync(go, '');
    const holder = startChild('folder', dir, go, 600_000);
    await holder.printed('locked');
    expect(existsSync(join(dir, '.lock'))).toBe(true);
    holder.child.kill('SIGTERM');
    expect((await holder.exited).signal).toBe('SIGTERM');
    expect(existsSync(join(dir, '.lock'))).toBe(false);
  }, 60_000);

  it('in a folder that cannot be written, fails naming the lock and the cause', (ctx) => {
    const dir = fresh();
    // A path below a file: always refused.
    writeFileSync(join(dir, 'file'), '');
    expect(() => lockFile(join(dir, 'file', 'out.jsonl'))).toThrow(`cannot write ${join(dir, 'file', 'out.jsonl')}: creating its lock ${join(dir, 'file', 'out.jsonl.lock')} failed: ENOTDIR (not a directory)`);

    // A read-only folder. Root ignores file modes, so for root: the immutable attribute.
    const ro = join(dir, 'ro');
    mkdirSync(ro);
    chmodSync(ro, 0o555);
    const writable = () => {
      try {
        writeFileSync(join(ro, 'probe'), '');
        rmSync(join(ro, 'probe'));
        return true;
      } catch {
        return false;
      }
    };
    const immutable = writable() && spawnSync('chattr', ['+i', ro]).status === 0;
    try {
      if (writable()) return ctx.skip('no way to make a folder read-only here: running as root without chattr');
      expect(() => lockFile(join(ro, 'out.jsonl'))).toThrow(
        new RegExp(`^cannot write ${ro}/out.jsonl: creating its lock ${ro}/out.jsonl.lock failed: (EACCES \\(permission denied\\)|EPERM \\(operation not permitted\\)|EROFS \\(read-only file system\\))$`),
      );
      expect(() => lockFolder(ro)).toThrow(`creating its lock ${ro}/.lock failed: E`);
    } finally {
      if (immutable) spawnSync('chattr', ['-i', ro]);
      chmodSync(ro, 0o755);
    }
  });
});

describe("the trainer's run folder", () => {
  const root = tempDir('train-lock');
  afterAll(() => rmSync(root, { recursive: true, force: true }));
  const options = (out: string) => ({ ...DEFAULT_SETTINGS, data: [join(root, 'no-catalog')], out, steps: 1 });

  it('a second trainer is refused while one holds the folder, before it reads or writes anything', async () => {
    const out = join(root, 'busy');
    mkdirSync(out);
    const first = lockFolder(out); // what a running trainer holds
    try {
      await expect(train(options(out))).rejects.toThrow(`${out} is being written by pid ${process.pid}`);
      await expect(train({ ...options(out), resume: true })).rejects.toThrow(`${out} is being written by pid ${process.pid}`);
      expect(readdirSync(out)).toEqual(['.lock']);
    } finally {
      first.release();
    }
  });

  it('takes the lock before anything else and releases it on the way out, also on an error', async () => {
    const out = join(root, 'fresh');
    await expect(train({ ...options(out), resume: true })).rejects.toThrow(`--resume: ${out} holds no checkpoint`);
    expect(readdirSync(out)).toEqual([]);
    lockFolder(out).release();
  });

  it('takes over the lock of a SIGKILLed trainer with a warning, so --resume needs no repair', async () => {
    const out = join(root, 'killed');
    mkdirSync(out);
    const go = join(root, 'go');
    writeFileSync(go, '');
    const holder = startChild('folder', out, go, 600_000);
    await holder.printed('locked');
    holder.child.kill('SIGKILL');
    await holder.exited;
    const warn = vi.spyOn(console, 'error').mockImplementation(() => {});
    try {
      await expect(train({ ...options(out), resume: true })).rejects.toThrow(`--resume: ${out} holds no checkpoint`);
      expect(warn).toHaveBeenCalledWith(expect.stringContaining(`took over the lock of pid ${holder.child.pid}`));
    } finally {
      warn.mockRestore();
    }
    expect(readdirSync(out)).toEqual([]);
  }, 60_000);
});
