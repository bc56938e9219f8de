/**
 * Entry point for the kill -9 test: `atelier batch` exactly as the command runs it, with the fake
 * engine in place of the model. FAKE_DELAY_MS slows each batch so the parent can kill it mid-job;
 * FAKE_TEXT_BYTES makes each line long enough that a write spans several pages (a SIGKILL can
 * then cut a write short).
 */
import { runBatchCommand } from '../../src/cli/batch.ts';
import { FakeEngine } from './fake-engine.ts';

const delayMs = Number(process.env.FAKE_DELAY_MS ?? 0);
const extraText = 'x'.repeat(Number(process.env.FAKE_TEXT_BYTES ?? 0));
process.exitCode = await runBatchCommand(process.argv.slice(2), async () => new FakeEngine({ delayMs, extraText }));
