import { layerNormRef } from '../../src/reference/layernorm.ts';
import { layerNorm } from '../../src/runtime/ops/layernorm.ts';
import { opCheck, type CheckFamily } from './check.ts';
import { rowShapes } from './shapes.ts';

// As in test/kernels/layernorm.test.ts for unit-scale data: outputs are O(1) with mean and variance
// accumulated in f32; the row means are near 0 (absolute tolerance), rstd is compared relatively.
const output = { atol: 2e-5, rtol: 1e-4 };
const mean = { atol: 1e-6, rtol: 1e-5 };
const rstd = { atol: 0, rtol: 1e-4 };
const EPS = 1e-5;

export const layerNormChecks: CheckFamily = (setup) =>
  rowShapes(setup).flatMap((shape) => {
    const n = shape[shape.length - 1];
    const inputs = [{ shape, scale: 3 }, { shape: [n] }, { shape: [n] }];
    return [
      opCheck(setup, {
        family: 'layernorm',
        name: `layernorm [${shape.join(', ')}]`,
        inputs,
        tolerance: output,
        gpu: (rec, [x, gamma, beta]) => layerNorm(rec, x, gamma, beta, { eps: EPS }).y,
        reference: ([x, gamma, beta]) => ({ data: layerNormRef(x, n, gamma, beta, EPS).y, shape }),
      }),
      opCheck(setup, {
        family: 'layernorm',
        name: `layernorm+stats [${shape.join(', ')}]`,
        inputs,
        tolerance: [output, mean, rstd],
        gpu: (rec, [x, gamma, beta]) => {
          const r = layerNorm(rec, x, gamma, beta, { eps: EPS, stats: true });
          return [r.y, r.mean!, r.rstd!];
        },
        reference: ([x, gamma, beta]) => {
          const r = layerNormRef(x, n, gamma, beta, EPS);
          return [r.y, r.mean, r.rstd];
        },
      }),
    ];
  });
