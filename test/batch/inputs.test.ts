import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readBatchInput } from '../../src/node/batch/inputs.ts';
import { FakeEngine } from './fake-engine.ts';
import { pngBytes, readJsonlStrict, runJob, useTempDir, writeCatalog, writePngFolder } from './fixtures.ts';

describe('batch inputs and bad images', () => {
  const tmp = useTempDir('inputs');

  it('enumerates an image folder recursively in a fixed order, skipping hidden entries and non-images', async () => {
    const dir = tmp();
    const names = writePngFolder(dir, 8, true);
    writeFileSync(join(dir, 'README.txt'), 'not an image');
    writeFileSync(join(dir, 'UPPER.JPEG'), 'x');
    writeFileSync(join(dir, 'photo.webp'), 'x');
    mkdirSync(join(dir, '.thumbs'));
    writeFileSync(join(dir, '.thumbs', 'a.png'), pngBytes(1, 1, [0, 0, 0]));
    writeFileSync(join(dir, '.hidden.png'), pngBytes(1, 1, [0, 0, 0]));
    symlinkSync(join(dir, 'sub0'), join(dir, 'linked'));
    const input = await readBatchInput(dir);
    const expected = [...names, 'UPPER.JPEG', 'photo.webp', ...names.filter((n) => n.startsWith('sub0/')).map((n) => n.replace('sub0/', 'linked/'))].sort();
    expect(input.kind).toBe('images');
    expect(input.items.map((i) => i.id)).toEqual(expected);
    expect(input.items.every((i) => i.image === i.id && i.path === join(dir, i.id))).toBe(true);
    expect(input.ignoredFiles).toBe(1);
  });

  it('reads a catalog folder or its listings.jsonl, reporting lines that name no usable item', async () => {
    const dir = tmp();
    writeCatalog(dir, ['0001', '0002', '0003']);
    writeFileSync(
      join(dir, 'listings.jsonl'),
      [
        '{"id": "0001", "image": "images/0001.png"}',
        '{"id": 42, "image": "images/0002.png"}',
        '{"id": "0001", "image": "images/0003.png"}',
        '{"image": "images/0003.png"}',
        '{"id": "0004"}',
        '',
        'not json',
        '{"id": "0005", "image": "images/missing.png"}',
        '{"id": "0006", "image": "../outside.png"}',
        '{"id": " 0007 ", "image": "./images\\\\0003.png"}',
      ].join('\n'),
    );
    for (const path of [dir, join(dir, 'listings.jsonl')]) {
      const input = await readBatchInput(path);
      expect(input.kind).toBe('listings');
      expect(input.items).toEqual([
        { id: '0001', image: 'images/0001.png', path: join(dir, 'images/0001.png') },
        { id: '42', image: 'images/0002.png', path: join(dir, 'images/0002.png') },
        { id: '0005', image: 'images/missing.png', path: join(dir, 'images/missing.png') },
        { id: '0007', image: 'images/0003.png', path: join(dir, 'images/0003.png') },
      ]);
      expect(input.problems).toEqual([
        'line 3 (id 0001): the id repeats line 1; only the first is listed',
        'line 4: no "id"',
        'line 5 (id 0004): no "image"',
        expect.stringMatching(/^line 7: not valid JSON/),
        'line 9 (id 0006): image path "../outside.png" is absolute or leaves the catalog folder',
      ]);
    }
  });

  it('names the cause for inputs it cannot read', async () => {
    const dir = tmp();
    await expect(readBatchInput(join(dir, 'nope'))).rejects.toThrow(/does not exist/);
    writeFileSync(join(dir, 'list.txt'), '');
    await expect(readBatchInput(join(dir, 'list.txt'))).rejects.toThrow(/must be a folder of images, a catalog folder .* or a .jsonl file/);
  });

  it('records each bad image with an error naming the cause and lists the rest', async () => {
    const dir = tmp();
    const good = writePngFolder(join(dir, 'in'), 5);
    const bad: Record<string, Buffer | string> = {
      'empty.png': '',
      'text.jpg': 'this is a text file named .jpg',
      'truncated.png': pngBytes(16, 16, [200, 10, 10]).subarray(0, 60),
      'truncated.jpg': Buffer.from([0xff, 0xd8, 0xff, 0xe0, 0x00, 0x10, 0x4a, 0x46]),
      'photo.webp': Buffer.concat([Buffer.from('RIFF'), Buffer.alloc(4), Buffer.from('WEBPVP8 '), Buffer.alloc(16)]),
    };
    for (const [name, bytes] of Object.entries(bad)) writeFileSync(join(dir, 'in', name), bytes);
    symlinkSync(join(dir, 'gone.png'), join(dir, 'in', 'dangling.png'));

    const out = join(dir, 'out.jsonl');
    const engine = new FakeEngine();
    const summary = await runJob(join(dir, 'in'), out, { engine, batchSize: 3 });
    const records = readJsonlStrict<{ id: string; error?: string; title?: string }>(out);
    const errors = Object.fromEntries(records.filter((r) => r.error).map((r) => [r.id, r.error]));
    // The causes as the catalog loader's decoder (src/node/image.ts) words them, without the path.
    expect(errors).toEqual({
      'dangling.png': 'file not found',
      'empty.png': 'empty file (0 bytes)',
      'text.jpg': 'not a JPEG or PNG file (it starts with "this is a text f")',
      'truncated.png': expect.stringMatching(/^truncated PNG/),
      'truncated.jpg': expect.stringMatching(/^truncated JPEG/),
      'photo.webp': 'WebP images are not supported (use JPEG or PNG)',
    });
    expect(records.filter((r) => !r.error).map((r) => r.id)).toEqual(good);
    expect(records.every((r) => (r.error === undefined) === (typeof r.title === 'string'))).toBe(true);
    expect(summary).toMatchObject({ items: 11, done: 5, failed: 6, skipped: 0 });
    // Only decodable images reach the engine, in batches of at most 3.
    expect(engine.batchSizes.reduce((a, b) => a + b, 0)).toBe(5);
    expect(Math.max(...engine.batchSizes)).toBeLessThanOrEqual(3);
  });
});
