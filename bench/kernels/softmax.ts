/** Row softmax at model-sized shapes (vocabulary logits, attention-sized rows), against tf.softmax. */
import type { BenchCase } from '../harness.ts';
import { softmax } from '../../src/runtime/ops/softmax.ts';
import { softmaxRef } from '../../src/reference/softmax.ts';
import { randomArray } from '../../src/reference/numeric.ts';
import { singleInputCase, within } from '../single-input.ts';

function softmaxCase(rows: number, n: number): BenchCase {
  const data = randomArray(rows * n, rows + n, 8);
  return singleInputCase({
    kernel: 'softmax',
    shape: `${rows}x${n}`,
    bytes: 2 * 4 * rows * n, // one read and one write of the matrix
    data,
    inShape: [rows, n],
    outShape: [rows, n],
    run: (rec, x, y) => softmax(rec, x, y),
    check: within(softmaxRef(data, n), 1e-7, 2e-5),
    tfjsOp: (tf, x) => tf.softmax(x),
  });
}

export const cases: BenchCase[] = [softmaxCase(512, 1000), softmaxCase(8, 8192), softmaxCase(2048, 128)];
