import { appendKvRef } from '../../src/reference/kv_cache.ts';
import { appendKv } from '../../src/runtime/ops/kv_cache.ts';
import { EXACT, opCheck, type CheckFamily } from './check.ts';
import { rowWidths } from './shapes.ts';

// As in test/kernels/kv_cache.test.ts: a cache write copies values exactly and leaves the rest of
// the cache untouched.

/** KV-cache appends at one position for every sequence (prefill) and at per-sequence GPU positions (ragged decode). */
export const kvCacheChecks: CheckFamily = (setup) =>
  rowWidths(setup).map((dim, i) => {
    const [batch, tmax] = [setup.int(1, 3), setup.int(1, 40)];
    const tnew = setup.int(1, tmax);
    const ragged = i !== 1; // per-row positions may run past the capacity: those rows are dropped
    const pos = ragged ? 0 : setup.int(0, tmax - tnew);
    const cache = { shape: [batch, tmax, dim] };
    const rows = { shape: [batch, tnew, dim], scale: 5 };
    return opCheck(setup, {
      family: 'kv_cache',
      name: `append [${batch}, ${tnew}, ${dim}] into [${batch}, ${tmax}, ${dim}] ${ragged ? 'at per-row positions' : `at ${pos}`}`,
      inputs: [cache, cache, rows, rows, ...(ragged ? [{ shape: [batch, 1], ids: tmax }] : [])],
      tolerance: EXACT,
      gpu: (rec, [k, v, kNew, vNew, positions]) => {
        appendKv(rec, { k, v }, kNew, vNew, positions ?? pos);
        return [k, v];
      },
      reference: ([k, v, kNew, vNew, positions]) => [k, v].map((c, j) => appendKvRef(c, [kNew, vNew][j], batch, tmax, dim, positions ?? pos)),
    });
  });
