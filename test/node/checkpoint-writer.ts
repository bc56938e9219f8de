/**
 * Child process of checkpoint-kill.test.ts: writes checkpoints of a tiny model to the run folder
 * in argv[2], steps on from the run's latest checkpoint without end, printing `wrote N` after each,
 * until it is killed.
 * The optimizer moments and trainer state carry the step, so a reader can tell a checkpoint
 * assembled from two writes apart from a whole one.
 */
import { readCheckpoint, writeCheckpoint } from '../../src/node/checkpoint.ts';
import { tinyBundle } from '../model/fixtures.ts';

const runDir = process.argv[2];
const bundle = tinyBundle(3);
for (let step = (readCheckpoint<{ step: number }>(runDir)?.state.step ?? 0) + 1; ; step++) {
  const moments = [...bundle.params].map(([name, p]) => ({ name, m: new Float32Array(p.data.length).fill(step), v: new Float32Array(p.data.length).fill(step) }));
  writeCheckpoint(runDir, step, { bundle, optimizer: { stepCount: step, moments }, state: { step } });
  process.stdout.write(`wrote ${step}\n`);
}
