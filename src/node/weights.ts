/** Weights folders on disk: read for inference, written atomically by training. */
import { mkdirSync, readFileSync, renameSync, writeFileSync, existsSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { parseModelBundle, serializeBundle, type ModelBundle, type ModelManifest } from '../model/bundle.ts';
import { WeightsFormatError } from '../model/safetensors.ts';
import { PROJECT_ROOT } from './gpu.ts';

export const DEFAULT_WEIGHTS_DIR = join(PROJECT_ROOT, 'weights');

function readJson(path: string): unknown {
  try {
    return JSON.parse(readFileSync(path, 'utf8'));
  } catch (e) {
    throw new WeightsFormatError(`${path}: ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'file not found' : (e as Error).message}`);
  }
}

export function readWeightsFolder(dir = DEFAULT_WEIGHTS_DIR): ModelBundle {
  const manifest = readJson(join(dir, 'model.json')) as { files?: { weights?: string; tokenizer?: string } };
  const files = manifest?.files ?? {};
  const weightsPath = join(dir, files.weights ?? 'model.safetensors');
  if (!existsSync(weightsPath)) throw new WeightsFormatError(`${weightsPath}: file not found`);
  const weights = new Uint8Array(readFileSync(weightsPath));
  return parseModelBundle(manifest, weights, readJson(join(dir, files.tokenizer ?? 'tokenizer.json')), dir);
}

/**
 * Writes each file next to its final name, then renames it into place, so a reader never sees a
 * half-written file and a killed writer leaves the previous file intact.
 */
function writeFilesAtomically(dir: string, files: readonly [string, string | Uint8Array][]): void {
  mkdirSync(dir, { recursive: true });
  for (const [name, data] of files) {
    const tmp = join(dir, `.${name}.tmp-${process.pid}`);
    try {
      writeFileSync(tmp, data);
      renameSync(tmp, join(dir, name));
    } finally {
      rmSync(tmp, { force: true });
    }
  }
}

const manifestText = (manifest: ModelManifest) => JSON.stringify(manifest, null, 2);

export function writeWeightsFolder(dir: string, bundle: ModelBundle, options: Parameters<typeof serializeBundle>[1] = {}): void {
  const { manifest, weights, tokenizer } = serializeBundle(bundle, options);
  writeFilesAtomically(dir, [
    [manifest.files.weights, weights],
    [manifest.files.tokenizer, JSON.stringify(tokenizer)],
    ['model.json', manifestText(manifest)],
  ]);
}

/** Replaces only a weights folder's model.json (the weights and tokenizer files are not touched). */
export function writeManifest(dir: string, manifest: ModelManifest): void {
  writeFilesAtomically(dir, [['model.json', manifestText(manifest)]]);
}
