/**
 * Entry point for the lock tests: prints `ready`, waits until the file `go` exists (so several
 * children race from the same instant), takes the lock of a file or folder, prints `locked`, holds
 * it for `holdMs` and releases it. Refused: prints `refused: <message>` and exits 3.
 */
import { existsSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { lockFile, lockFolder, type WriterLock } from '../../src/node/lock.ts';

const [kind, target, go, holdMs] = process.argv.slice(2);
console.log('ready');
while (!existsSync(go)) await sleep(1);
let lock: WriterLock;
try {
  lock = (kind === 'folder' ? lockFolder : lockFile)(target);
} catch (e) {
  console.log(`refused: ${(e as Error).message}`);
  process.exit(3);
}
console.log('locked');
await sleep(Number(holdMs));
lock.release();
