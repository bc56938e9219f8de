/**
 * Training checkpoints in a run folder, written so that killing the process at any moment never
 * leaves a corrupt one:
 *
 *   <run>/checkpoints/step-000123/weights/       a weights folder (f32, the format of weights/)
 *   <run>/checkpoints/step-000123/optimizer.safetensors   AdamW moments
 *   <run>/checkpoints/step-000123/trainer.json   step, data position, schedule, options
 *   <run>/latest  -> checkpoints/step-000123     symbolic link, replaced by an atomic rename
 *   <run>/weights -> latest/weights              so `atelier list --weights <run>/weights` works
 *
 * A checkpoint is written completely under `step-N.tmp`, renamed to `step-N`, and only then does
 * `latest` move to it (a new link under a temporary name, renamed over the old one). A kill before
 * that rename leaves `latest` on the previous, complete checkpoint; leftovers are removed by the
 * next write.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, readlinkSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ModelBundle } from '../model/bundle.ts';
import { parseSafetensors, serializeSafetensors, WeightsFormatError } from '../model/safetensors.ts';
import type { MomentState } from '../train/optimizer.ts';
import { readWeightsFolder, writeWeightsFolder } from './weights.ts';

export interface Checkpoint<S> {
  bundle: ModelBundle;
  optimizer: { stepCount: number; moments: MomentState[] };
  /** The trainer's own state (JSON). */
  state: S;
}

const LATEST = 'latest';
const stepName = (step: number) => `step-${String(step).padStart(6, '0')}`;

export function writeCheckpoint<S>(runDir: string, step: number, c: Checkpoint<S>, training?: Record<string, unknown>): string {
  const dir = join(runDir, 'checkpoints');
  // A second checkpoint at the same step (e.g. a resumed run that stops at once) gets its own
  // folder: the one `latest` points at is never touched.
  const name = existsSync(join(dir, stepName(step))) ? `${stepName(step)}-${Date.now().toString(36)}` : stepName(step);
  const temp = join(dir, `${name}.tmp`);
  mkdirSync(temp, { recursive: true });
  writeWeightsFolder(join(temp, 'weights'), c.bundle, { training });
  const tensors = Object.fromEntries(
    c.optimizer.moments.flatMap((m) => [
      [`${m.name}.m`, { dtype: 'F32' as const, shape: [m.m.length], data: new Uint8Array(m.m.buffer, m.m.byteOffset, m.m.byteLength) }],
      [`${m.name}.v`, { dtype: 'F32' as const, shape: [m.v.length], data: new Uint8Array(m.v.buffer, m.v.byteOffset, m.v.byteLength) }],
    ]),
  );
  writeFileSync(join(temp, 'optimizer.safetensors'), serializeSafetensors(tensors, { stepCount: String(c.optimizer.stepCount) }));
  writeFileSync(join(temp, 'trainer.json'), JSON.stringify(c.state, null, 2));
  const final = join(dir, name);
  renameSync(temp, final);
  const link = join(runDir, `${LATEST}.tmp-${process.pid}`);
  rmSync(link, { force: true });
  symlinkSync(join('checkpoints', name), link);
  renameSync(link, join(runDir, LATEST));
  if (!existsSync(join(runDir, 'weights'))) symlinkSync(join(LATEST, 'weights'), join(runDir, 'weights'));
  // Older checkpoints and leftovers of interrupted writes.
  for (const entry of readdirSync(dir)) if (entry !== name) rmSync(join(dir, entry), { recursive: true, force: true });
  return final;
}

/** The checkpoint `latest` points at, or null when the run folder has none. */
export function readCheckpoint<S>(runDir: string): (Checkpoint<S> & { dir: string }) | null {
  const link = join(runDir, LATEST);
  let target: string;
  try {
    target = readlinkSync(link);
  } catch {
    return null;
  }
  const dir = join(runDir, target);
  const bundle = readWeightsFolder(join(dir, 'weights'));
  const file = join(dir, 'optimizer.safetensors');
  const { tensors, metadata } = parseSafetensors(new Uint8Array(readFileSync(file)), file);
  const moments: MomentState[] = [];
  for (const name of bundle.params.keys()) {
    const m = tensors[`${name}.m`];
    const v = tensors[`${name}.v`];
    if (!m || !v) continue; // a parameter the run did not train (e.g. the decoder of a --no-decoder run)
    moments.push({ name, m: new Float32Array(m.data.slice().buffer), v: new Float32Array(v.data.slice().buffer) });
  }
  const stepCount = Number(metadata.stepCount);
  if (!Number.isInteger(stepCount)) throw new WeightsFormatError(`${file}: no stepCount in its metadata`);
  const state = JSON.parse(readFileSync(join(dir, 'trainer.json'), 'utf8')) as S;
  return { dir, bundle, optimizer: { stepCount, moments }, state };
}
