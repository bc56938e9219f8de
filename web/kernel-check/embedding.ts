import { embeddingRef } from '../../src/reference/embedding.ts';
import { embedding } from '../../src/runtime/ops/embedding.ts';
import { EXACT, opCheck, type CheckFamily } from './check.ts';
import { rowWidths } from './shapes.ts';

// As in test/kernels/embedding.test.ts: a gather copies values exactly; adding a position row is
// one f32 rounding of values below 2 in magnitude.
const withPositions = { atol: 1e-6, rtol: 0 };

export const embeddingChecks: CheckFamily = (setup) =>
  rowWidths(setup).map((dim) => {
    const [batch, seqLen, vocab] = [setup.int(1, 3), setup.int(1, 20), setup.int(1, 500)];
    const positions = setup.int(0, 1) === 1 ? { rows: seqLen + setup.int(0, 5), offset: 0 } : null;
    if (positions) positions.offset = setup.int(0, positions.rows - seqLen);
    return opCheck(setup, {
      family: 'embedding',
      name: `gather [${batch}, ${seqLen}] ids from [${vocab}, ${dim}]${positions ? ` + positions from ${positions.offset}` : ''}`,
      inputs: [{ shape: [vocab, dim] }, { shape: [batch, seqLen], ids: vocab }, ...(positions ? [{ shape: [positions.rows, dim] }] : [])],
      tolerance: positions ? withPositions : EXACT,
      gpu: (rec, [table, ids, pos]) => embedding(rec, table, ids, pos ? { positions: pos, posOffset: positions!.offset } : {}),
      reference: ([table, ids, pos]) => ({
        data: embeddingRef(table, dim, ids, seqLen, pos ? { table: pos, offset: positions!.offset } : undefined),
        shape: [batch, seqLen, dim],
      }),
    });
  });
