/**
 * One writer at a time for an output a command owns (a batch output file, a training run folder, a
 * weights folder being rewritten): two processes appending to one output, or checkpointing into one
 * run folder, corrupt each other, while a single writer killed at any moment does not.
 *
 * The lock is a small JSON file (pid, hostname, start time): `<file>.lock` beside an output file,
 * `<folder>/.lock` inside a folder. It is written complete under a unique name and hard-linked into
 * place (link fails if the name exists), so taking it is atomic and no process ever reads a
 * half-written lock. A lock left by a process that is gone (same host, `kill(pid, 0)` says ESRCH:
 * a SIGKILL, a crash) is taken over with a warning, so no interruption needs manual repair; when
 * several processes find the same stale lock, exactly one takes it (see replaceStale). A lock of
 * another host is never judged stale: its pid means nothing here.
 *
 * Released by `release()` (callers do it in `finally`), on `process.exit`, and on SIGINT/SIGTERM
 * when no other listener handles the signal (the batch and train commands stop gracefully and
 * release in their `finally`; a process without a handler would otherwise die holding it).
 */
import { randomBytes } from 'node:crypto';
import { linkSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { getSystemErrorMap } from 'node:util';

interface LockOwner {
  pid: number;
  hostname: string;
  /** ISO time the lock was taken. */
  started: string;
}

export interface WriterLock {
  /** The lock file. */
  readonly path: string;
  /** Removes the lock file; a second call does nothing. */
  release(): void;
}

/** Locks output file `file` (which need not exist yet) with `<file>.lock` beside it. */
export function lockFile(file: string): WriterLock {
  return takeLock(file, `${file}.lock`);
}

/** Locks the existing folder `dir` with `<dir>/.lock`. */
export function lockFolder(dir: string): WriterLock {
  return takeLock(dir, join(dir, '.lock'));
}

const held = new Set<WriterLock>();

/** How long to keep trying while other processes take over the same stale lock. */
const GIVE_UP_MS = 3000;
/** A takeover claim older than this was left by a process that died in the middle of one. */
const DEAD_CLAIM_MS = 2000;

function takeLock(target: string, lockPath: string): WriterLock {
  const text = `${JSON.stringify({ pid: process.pid, hostname: hostname(), started: new Date().toISOString() } satisfies LockOwner)}\n`;
  // Written complete under a unique name, then linked (or renamed) into place.
  const temp = `${lockPath}.${process.pid}-${randomBytes(4).toString('hex')}.tmp`;
  try {
    writeFileSync(temp, text, { flag: 'wx' });
  } catch (e) {
    throw cannotLock(target, lockPath, e as NodeJS.ErrnoException);
  }
  try {
    for (const giveUp = Date.now() + GIVE_UP_MS; Date.now() < giveUp; ) {
      if (create(target, lockPath, temp)) return hold(lockPath, text);
      const current = readLock(target, lockPath);
      if (current === null) continue; // released between our attempt and the read
      const { pid, hostname: host, started } = current.owner;
      if (host !== hostname() || isRunning(pid)) {
        throw new Error(`${target} is being written by pid ${pid} on host ${host} since ${localTime(started)}; wait for it or stop it (lock: ${lockPath})`);
      }
      const outcome = replaceStale(lockPath, current.text, temp);
      if (outcome === 'replaced') {
        console.error(`atelier: ${target}: took over the lock of pid ${pid} (since ${localTime(started)}), which is no longer running; what it left is recovered as after a crash`);
        return hold(lockPath, text);
      }
      if (outcome === 'busy') Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 10);
    }
    throw new Error(`${target}: could not take the lock ${lockPath} within ${GIVE_UP_MS / 1000} s: other processes keep taking it over; retry`);
  } finally {
    rmSync(temp, { force: true });
  }
}

/** Links the written lock into place; false when a lock exists. */
function create(target: string, lockPath: string, temp: string): boolean {
  try {
    linkSync(temp, lockPath);
    return true;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw cannotLock(target, lockPath, e as NodeJS.ErrnoException);
  }
}

/** The lock's owner and raw text, or null when there is none. */
function readLock(target: string, lockPath: string): { owner: LockOwner; text: string } | null {
  let text: string;
  try {
    text = readFileSync(lockPath, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw cannotLock(target, lockPath, e as NodeJS.ErrnoException);
  }
  try {
    const owner = JSON.parse(text) as LockOwner;
    if (Number.isInteger(owner.pid) && typeof owner.hostname === 'string' && typeof owner.started === 'string') return { owner, text };
  } catch {
    // reported below
  }
  throw new Error(`${target}: ${lockPath} is not a lock this program wrote; remove it if nothing is writing ${target}`);
}

function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code !== 'ESRCH'; // EPERM: alive, another user's
  }
}

/**
 * Replaces the lock with ours (`temp`) if it is still the one judged stale (`staleText`). Several
 * processes can judge one lock stale at once, and the first may already have replaced it by the
 * time the second replaces "the lock", so replacing is reserved to the holder of a claim:
 * `<lock>.takeover`, hard-linked to the lock file (atomic; fails while another process holds it).
 * The claim is a second name for the file the lock was at that instant, so reading it tells
 * whether that file was the stale one; while the claim is held nobody else replaces the lock, and
 * creating one fails since it exists, so it is still that file when our rename replaces it.
 * 'busy': another process holds the claim; 'changed': the lock is no longer the stale one.
 */
function replaceStale(lockPath: string, staleText: string, temp: string): 'replaced' | 'changed' | 'busy' {
  const claim = `${lockPath}.takeover`;
  try {
    linkSync(lockPath, claim);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return 'changed';
    if (code !== 'EEXIST') throw e;
    // ctime: when the claim was linked. A live claimer holds it for microseconds.
    try {
      if (Date.now() - statSync(claim).ctimeMs > DEAD_CLAIM_MS) rmSync(claim, { force: true });
    } catch {
      // released meanwhile
    }
    return 'busy';
  }
  try {
    if (readFileSync(claim, 'utf8') !== staleText) return 'changed';
    renameSync(temp, lockPath);
    return 'replaced';
  } finally {
    rmSync(claim, { force: true });
  }
}

function hold(lockPath: string, text: string): WriterLock {
  const lock: WriterLock = {
    path: lockPath,
    release() {
      if (!held.delete(lock)) return;
      if (held.size === 0) process.off('exit', releaseAll).off('SIGINT', onSignal).off('SIGTERM', onSignal);
      // Only our own: after a hand removal another writer may hold this name now.
      try {
        if (readFileSync(lockPath, 'utf8') === text) rmSync(lockPath, { force: true });
      } catch {
        // already gone
      }
    },
  };
  // First in line, so a handler that removes itself while the signal is delivered (batch does) still counts.
  if (held.size === 0) process.on('exit', releaseAll).prependListener('SIGINT', onSignal).prependListener('SIGTERM', onSignal);
  held.add(lock);
  return lock;
}

function releaseAll(): void {
  for (const lock of [...held]) lock.release();
}

function onSignal(signal: NodeJS.Signals): void {
  if (process.listenerCount(signal) > 1) return; // someone else stops the work and releases
  releaseAll(); // also removes this listener, so the signal below gets its default action
  process.kill(process.pid, signal);
}

function cannotLock(target: string, lockPath: string, e: NodeJS.ErrnoException): Error {
  const cause = e.errno !== undefined ? getSystemErrorMap().get(e.errno)?.[1] : undefined;
  return new Error(`cannot write ${target}: creating its lock ${lockPath} failed: ${e.code}${cause ? ` (${cause})` : ''}`);
}

/** `2025-01-31 14:02` in local time. */
function localTime(iso: string): string {
  const d = new Date(iso);
  const two = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${two(d.getMonth() + 1)}-${two(d.getDate())} ${two(d.getHours())}:${two(d.getMinutes())}`;
}
