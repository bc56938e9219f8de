import { matmulRef } from '../../src/reference/matmul.ts';
import { matmul, MATVEC_MAX_ROWS } from '../../src/runtime/ops/matmul.ts';
import { opCheck, type CheckFamily, type CheckSetup } from './check.ts';
import { ACTIVATIONS } from './elementwise.ts';

// The Node tests' tolerances (test/kernels/matmul.test.ts): products of values in [-1, 1] summed in
// f32 over k <= 70 terms here, in another order than the float64 reference.
const tolerance = { atol: 2e-5, rtol: 1e-4 };

/** A random product: m rows (a few in matvec's range), any n and k, either layout of A and B, a batch or a shared B. */
function problem(setup: CheckSetup, rows: number) {
  const [m, n, k] = [rows, setup.int(1, 70), setup.int(1, 70)];
  const transA = setup.int(0, 1) === 1;
  const transB = setup.int(0, 1) === 1;
  const batch = setup.int(0, 2) === 0 ? [setup.int(2, 3)] : [];
  const sharedB = batch.length > 0 && setup.int(0, 1) === 1;
  return {
    a: [...batch, ...(transA ? [k, m] : [m, k])],
    b: [...(sharedB ? [] : batch), ...(transB ? [n, k] : [k, n])],
    n,
    transA,
    transB,
    bias: setup.int(0, 1) === 1,
    activation: setup.pick(ACTIVATIONS),
  };
}

export const matmulChecks: CheckFamily = (setup) =>
  [setup.int(1, MATVEC_MAX_ROWS), setup.int(MATVEC_MAX_ROWS + 1, 70), setup.int(33, 70)].map((rows) => {
    const p = problem(setup, rows);
    const shape = (s: number[], t: boolean) => `[${s.join(', ')}]${t ? 'ᵀ' : ''}`;
    return opCheck(setup, {
      family: 'matmul',
      name: `${shape(p.a, p.transA)} · ${shape(p.b, p.transB)}${p.bias ? ' + bias' : ''}, ${p.activation}`,
      inputs: [{ shape: p.a }, { shape: p.b }, ...(p.bias ? [{ shape: [p.n] }] : [])],
      tolerance,
      gpu: (rec, [a, b, bias]) => matmul(rec, a, b, { transA: p.transA, transB: p.transB, bias, activation: p.activation }),
      reference: ([a, b, bias]) => matmulRef(a, p.a, b, p.b, { transA: p.transA, transB: p.transB, bias, activation: p.activation }),
    });
  });
