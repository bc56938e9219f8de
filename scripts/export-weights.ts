/**
 * A trained run's weights as the committed default: `npx tsx scripts/export-weights.ts
 * runs/x/weights weights`. Every tensor is stored in f16 (half the size: weights/ stays far under
 * its 25 MB budget; the engine loads f16-stored matmul weights as f16 where the adapter has
 * shader-f16, losslessly), model.json and tokenizer.json as the run wrote them. A catalog chooser
 * is tied to the backbone it was fitted on (it is ignored for any other): refit it afterwards with
 * `atelier catalog-head`.
 */
import { lockFolder } from '../src/node/lock.ts';
import { readWeightsFolder, writeWeightsFolder } from '../src/node/weights.ts';

const [from, to] = process.argv.slice(2);
if (!from || !to) {
  console.error('usage: npx tsx scripts/export-weights.ts <trained weights folder> <destination folder>');
  process.exit(2);
}
const lock = lockFolder(to);
try {
  const bundle = readWeightsFolder(from);
  writeWeightsFolder(to, bundle, { f16: true });
  const params = [...bundle.params.values()].reduce((s, p) => s + p.data.length, 0);
  console.log(`${from} -> ${to}: ${bundle.params.size} tensors, ${params} parameters, f16`);
} finally {
  lock.release();
}
