import { createListingEngine } from '../src/node/engine.ts';
import { decodeImageFile } from '../src/node/image.ts';
import { readdirSync } from 'node:fs';
const dir = '/work/shared/data/hm/images';
const fs = readdirSync(dir).sort().slice(0, 14);
const engine = await createListingEngine({ batchSize: 1 });
for (let i = 0; i < 2; i++) await engine.list([await decodeImageFile(dir + '/' + fs[i])], { maxNewTokens: 64, stopAtEos: false });
const tot: number[] = [];
for (let i = 2; i < 12; i++) {
  const img = await decodeImageFile(dir + '/' + fs[i]);
  const t0 = performance.now();
  await engine.list([img], { maxNewTokens: 64, stopAtEos: false });
  tot.push(performance.now() - t0);
}
tot.sort((a, b) => a - b);
console.log(process.env.PRECISE_SLEEP ? 'precise' : 'timer  ', 'median', tot[5].toFixed(0), 'min', tot[0].toFixed(0), 'max', tot[9].toFixed(0));
engine.dispose();
