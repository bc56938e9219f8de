import { concatRef, sliceRef } from '../../src/reference/layout.ts';
import { concat, slice } from '../../src/runtime/ops/layout.ts';
import { EXACT, opCheck, type CheckFamily, type CheckSetup } from './check.ts';

// Copies are exact.
const tolerance = EXACT;

/** A shape of rank 1..4 with small dims and an axis in it. */
function shapeAndAxis(setup: CheckSetup): { shape: number[]; axis: number } {
  const shape = Array.from({ length: setup.int(1, 4) }, () => setup.int(1, 9));
  return { shape, axis: setup.int(0, shape.length - 1) };
}

export const sliceChecks: CheckFamily = (setup) => {
  const s = shapeAndAxis(setup);
  const start = setup.int(0, s.shape[s.axis] - 1);
  const length = setup.int(1, s.shape[s.axis] - start);
  const c = shapeAndAxis(setup);
  const cShapes = [c.shape, c.shape.map((d, i) => (i === c.axis ? setup.int(1, 5) : d))];
  const at = (shape: readonly number[], axis: number, length: number) => shape.map((d, i) => (i === axis ? length : d));
  return [
    opCheck(setup, {
      family: 'slice',
      name: `slice [${s.shape.join(', ')}] axis ${s.axis} [${start}, ${start + length})`,
      inputs: [{ shape: s.shape }],
      tolerance,
      gpu: (rec, [x]) => slice(rec, x, s.axis, start, length),
      reference: ([x]) => ({ data: sliceRef(x, s.shape, s.axis, start, length), shape: at(s.shape, s.axis, length) }),
    }),
    opCheck(setup, {
      family: 'slice',
      name: `concat ${cShapes.map((sh) => `[${sh.join(', ')}]`).join(' + ')} axis ${c.axis}`,
      inputs: cShapes.map((shape) => ({ shape })),
      tolerance,
      gpu: (rec, xs) => concat(rec, xs, c.axis),
      reference: (xs) => ({ data: concatRef(xs, cShapes, c.axis), shape: at(c.shape, c.axis, cShapes[0][c.axis] + cShapes[1][c.axis]) }),
    }),
  ];
};
