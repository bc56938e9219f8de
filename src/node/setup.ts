/**
 * First-run setup from inside the CLI: when Dawn finds no WebGPU adapter, the command runs the same
 * script as `npm run setup:gpu` (scripts/ensure-adapter.mjs: installs Mesa lavapipe where it can,
 * otherwise prints the exact commands), then runs itself again in a fresh process (the Vulkan
 * loader of the failed one has already looked for drivers). Nothing of this runs while an adapter
 * exists. ATELIER_NO_SETUP=1 turns it off.
 */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { AtelierGpuError } from '../runtime/errors.ts';
import { PROJECT_ROOT } from './gpu.ts';

export const ENSURE_ADAPTER_SCRIPT = join(PROJECT_ROOT, 'scripts', 'ensure-adapter.mjs');

/** Set in the re-run, so a setup that did not help is not tried twice. */
const DONE_ENV = 'ATELIER_SETUP_DONE';

export function canSetUpAdapter(e: unknown, env: NodeJS.ProcessEnv = process.env): boolean {
  return e instanceof AtelierGpuError && e.kind === 'no-adapter' && !env[DONE_ENV] && !/^(1|true|yes)$/i.test(env.ATELIER_NO_SETUP ?? '');
}

/**
 * Runs ensure-adapter.mjs (its output on stderr, so stdout stays the command's data) and, when it
 * reports an adapter, this command again. Returns the exit code to finish with, or null when the
 * setup failed (its message says what to do).
 */
export function setUpAdapterAndRerun(argv: readonly string[]): number | null {
  process.stderr.write(`atelier: no WebGPU adapter; setting one up (${ENSURE_ADAPTER_SCRIPT}, as 'npm run setup:gpu' does)\n`);
  const setup = spawnSync(process.execPath, [ENSURE_ADAPTER_SCRIPT], { stdio: ['inherit', 2, 2] });
  if (setup.status !== 0) return null;
  const rerun = spawnSync(process.execPath, [...process.execArgv, process.argv[1], ...argv], { stdio: 'inherit', env: { ...process.env, [DONE_ENV]: '1' } });
  return rerun.status ?? 1;
}
