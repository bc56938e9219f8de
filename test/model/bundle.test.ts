import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseModelBundle, serializeBundle, type ModelBundle } from '../../src/model/bundle.ts';
import { parseSafetensors, serializeSafetensors, WeightsFormatError } from '../../src/model/safetensors.ts';
import { readWeightsFolder, writeManifest, writeWeightsFolder } from '../../src/node/weights.ts';
import { tinyBundle } from './fixtures.ts';

describe('weights files', () => {
  it('safetensors round-trips and checks its checksum', () => {
    const data = new Uint8Array(new Float32Array([1, 2, 3, 4, 5, 6]).buffer);
    const file = serializeSafetensors({ w: { dtype: 'F32', shape: [2, 3], data } }, { note: 'x' });
    const back = parseSafetensors(file);
    expect(back.tensors.w.shape).toEqual([2, 3]);
    expect(Array.from(new Float32Array(back.tensors.w.data.slice().buffer))).toEqual([1, 2, 3, 4, 5, 6]);
    const corrupt = file.slice();
    corrupt[corrupt.length - 1] ^= 0xff;
    expect(() => parseSafetensors(corrupt)).toThrow(/checksum mismatch/);
  });

  it('a truncated file fails with a message naming the truncation', () => {
    const bundle = tinyBundle(1);
    const { manifest, weights, tokenizer } = serializeBundle(bundle);
    expect(() => parseModelBundle(manifest, weights.subarray(0, weights.length - 100), tokenizer)).toThrow(/truncated/);
    expect(() => parseModelBundle(manifest, weights.subarray(0, 4), tokenizer)).toThrow(/too short/);
  });

  it('a weights file from another config fails naming the tensor and both shapes', () => {
    const a = tinyBundle(1);
    const b = tinyBundle(1, { layers: 2 });
    const { weights } = serializeBundle(a);
    const { manifest, tokenizer } = serializeBundle(b);
    expect(() => parseModelBundle(manifest, weights, tokenizer)).toThrow(WeightsFormatError);
    expect(() => parseModelBundle(manifest, weights, tokenizer)).toThrow(/missing backbone\.blocks\.1/);
  });

  it('a weights folder round-trips through disk in f16 within f16 precision', () => {
    const bundle = tinyBundle(2);
    const dir = mkdtempSync(join(tmpdir(), 'atelier-weights-'));
    writeWeightsFolder(dir, bundle, { f16: true });
    const back = readWeightsFolder(dir);
    for (const [name, p] of bundle.params) {
      const q = back.params.get(name)!;
      expect(q.shape).toEqual(p.shape);
      for (let i = 0; i < p.data.length; i += 97) expect(Math.abs(q.data[i] - p.data[i])).toBeLessThanOrEqual(Math.abs(p.data[i]) * 1e-3 + 1e-4);
    }
    // A manifest that is not ours is rejected clearly.
    writeFileSync(join(dir, 'model.json'), JSON.stringify({ hello: 1 }));
    expect(() => readWeightsFolder(dir)).toThrow(/not an atelier-model manifest/);
    writeFileSync(join(dir, 'model.json'), readFileSync(join(dir, 'tokenizer.json')).subarray(0, 10));
    expect(() => readWeightsFolder(dir)).toThrow(/model\.json/);
  });
});

describe('value vocabularies in the manifest', () => {
  /** tinyBundle's manifest with a vocabulary that holds values no head predicts. */
  function withVocabulary(bundle: ModelBundle, vocabulary: Record<string, string[]>): ModelBundle {
    return { ...bundle, manifest: { ...bundle.manifest, catalogs: bundle.manifest.catalogs.map((c) => ({ ...c, vocabulary })) } };
  }
  const VOCABULARY = { base_colour: ['Black', 'Blue', 'Fluorescent Green', 'Green', 'Red', 'White'], neck: ['Round Neck', 'V-Neck'] };

  it('round-trips through a weights folder and joins the head classes', () => {
    const dir = mkdtempSync(join(tmpdir(), 'atelier-vocabulary-'));
    writeWeightsFolder(dir, withVocabulary(tinyBundle(1), VOCABULARY));
    const back = readWeightsFolder(dir);
    expect(back.manifest.catalogs[0].vocabulary).toEqual(VOCABULARY);
    const { vocabulary } = back.catalogs[0];
    expect(vocabulary.base_colour).toContain('Fluorescent Green');
    expect(vocabulary.neck).toEqual(['Round Neck', 'V-Neck']);
    // Head attributes the manifest's vocabulary leaves out still get their classes (never "other").
    expect(vocabulary.gender).toEqual(['Men', 'Women']);
    expect(vocabulary.sleeve_length).toEqual(['Long Sleeves', 'Short Sleeves', 'Sleeveless']);
  });

  it('an old manifest without a vocabulary still loads, with the head classes as its vocabulary', () => {
    const { manifest, weights, tokenizer } = serializeBundle(tinyBundle(1));
    expect(manifest.catalogs[0].vocabulary).toBeUndefined();
    const back = parseModelBundle(JSON.parse(JSON.stringify(manifest)), weights, tokenizer);
    expect(back.catalogs[0].vocabulary).toEqual({
      base_colour: ['Black', 'Blue', 'Green', 'Red', 'White'],
      gender: ['Men', 'Women'],
      sleeve_length: ['Long Sleeves', 'Short Sleeves', 'Sleeveless'],
    });
  });

  it('a malformed vocabulary fails naming the catalog and attribute', () => {
    const { manifest, weights, tokenizer } = serializeBundle(withVocabulary(tinyBundle(1), { neck: 'V-Neck' } as unknown as Record<string, string[]>));
    expect(() => parseModelBundle(manifest, weights, tokenizer)).toThrow(/catalog myntra: vocabulary\.neck must be a list of strings/);
  });

  it('writeManifest replaces model.json and leaves the weights and tokenizer files as they are', () => {
    const dir = mkdtempSync(join(tmpdir(), 'atelier-manifest-'));
    const bundle = tinyBundle(2);
    writeWeightsFolder(dir, bundle, { f16: true });
    const before = ['model.safetensors', 'tokenizer.json'].map((f) => readFileSync(join(dir, f)));
    writeManifest(dir, withVocabulary(bundle, VOCABULARY).manifest);
    expect(['model.safetensors', 'tokenizer.json'].map((f) => readFileSync(join(dir, f)))).toEqual(before);
    expect(readWeightsFolder(dir).manifest.catalogs[0].vocabulary).toEqual(VOCABULARY);
  });
});
