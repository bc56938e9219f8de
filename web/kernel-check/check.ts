/**
 * Kernel checks for the browser: one op from src/runtime/ops run on the GPU against its float64
 * CPU reference from src/reference, on inputs drawn from a seeded generator. The same ops and
 * references as the Node kernel tests, so a WGSL construct that Dawn in Node accepts but Chrome's
 * compiler rejects, or that computes differently there, shows up as a failed case.
 */
import type { GpuContext } from '../../src/runtime/gpu.ts';
import type { Recorder } from '../../src/runtime/recorder.ts';
import type { Tensor } from '../../src/runtime/tensor.ts';
import { maxRelErr, randomArray, rng } from '../../src/reference/numeric.ts';

export interface KernelCheck {
  family: string;
  /** Op and shapes, e.g. `gelu [1, 300]`: unique within a run. */
  name: string;
  /** Runs the op and its reference; resolves to the worst error in tolerance units (<= 1 passes). */
  run(ctx: GpuContext): Promise<number>;
}

/** What a family's case generator gets: seeded draws (device features are on `rec.ctx` when the op runs). */
export interface CheckSetup {
  /** Uniform integer in [lo, hi]. */
  int(lo: number, hi: number): number;
  /** One of the given values. */
  pick<T>(values: readonly T[]): T;
  /** A fresh seed for one input array. */
  seed(): number;
}

/** A kernel family's cases: a few random shapes per op, including sizes that do not fill a tile. */
export type CheckFamily = (setup: CheckSetup) => KernelCheck[];

export interface Tolerance {
  atol: number;
  rtol: number;
}

/** For copies, gathers and integer results: maxRelErr needs a nonzero atol, and any wrong element is off by far more. */
export const EXACT: Tolerance = { atol: 1e-12, rtol: 0 };

export interface InputSpec {
  shape: readonly number[];
  /** Values are uniform in [-scale, scale] (default 1). */
  scale?: number;
  /**
   * A u32 tensor of integers uniform in [0, ids) instead (token ids, positions). The reference sees
   * them as floats, which hold integers below 2^24 exactly.
   */
  ids?: number;
}

type Reference = ArrayLike<number> | { data: ArrayLike<number>; shape: readonly number[] };

export interface OpCheckSpec {
  family: string;
  name: string;
  inputs: readonly InputSpec[];
  /** One per output, or one for all of them. */
  tolerance: Tolerance | readonly Tolerance[];
  /**
   * Records the op on uploaded inputs and returns its output or outputs. Outputs are disposed by the
   * check; an op that writes in place (a cache append) returns the input it wrote.
   */
  gpu(rec: Recorder, inputs: Tensor[]): Tensor | Tensor[];
  /**
   * The CPU reference on the same input values: one, or a list in the order of `gpu`'s outputs when
   * it returns a list. A reference with a shape also checks the output's shape.
   */
  reference(inputs: Float32Array[]): Reference | Reference[];
}

const sizeOf = (shape: readonly number[]) => shape.reduce((p, d) => p * d, 1);

/** Worst error of one output in tolerance units; throws when the shape differs from the reference's. */
async function compare(output: Tensor, want: Reference, tolerance: Tolerance): Promise<number> {
  const data = 'data' in want ? want.data : want;
  if ('shape' in want && want.shape.join(',') !== output.shape.join(',')) {
    throw new Error(`output ${output.label}: shape [${output.shape.join(', ')}], reference shape [${want.shape.join(', ')}]`);
  }
  return maxRelErr(await output.read(), data, tolerance.atol, tolerance.rtol);
}

function randomInput(input: InputSpec, seed: number): Float32Array {
  const n = sizeOf(input.shape);
  if (input.ids === undefined) return randomArray(n, seed, input.scale ?? 1);
  const uniform = rng(seed);
  return Float32Array.from({ length: n }, () => Math.floor(uniform() * input.ids!));
}

/** A check that uploads seeded random inputs, runs `gpu`, reads the results and compares them to `reference`. */
export function opCheck(setup: CheckSetup, spec: OpCheckSpec): KernelCheck {
  const seeds = spec.inputs.map(() => setup.seed());
  return {
    family: spec.family,
    name: spec.name,
    async run(ctx) {
      const hosts = spec.inputs.map((input, i) => randomInput(input, seeds[i]));
      const tensors = hosts.map((host, i) => {
        const { shape, ids } = spec.inputs[i];
        return ids === undefined ? ctx.tensor(host, shape, 'f32', `${spec.name} input ${i}`) : ctx.tensor(Uint32Array.from(host), shape, 'u32', `${spec.name} ids ${i}`);
      });
      let outputs: Tensor[] = [];
      let several = false;
      try {
        const rec = ctx.recorder(spec.name);
        try {
          const out = spec.gpu(rec, tensors);
          several = Array.isArray(out);
          outputs = Array.isArray(out) ? out : [out];
        } finally {
          rec.submit(); // also when the op threw, so the next case can record
        }
        // Several outputs come with a list of references (a single reference may itself be a number[]).
        const refs = spec.reference(hosts);
        const wants = several ? (refs as Reference[]) : [refs as Reference];
        if (wants.length !== outputs.length) throw new Error(`${outputs.length} outputs but ${wants.length} references`);
        let worst = 0;
        for (let i = 0; i < outputs.length; i++) {
          const tolerance = 'atol' in spec.tolerance ? spec.tolerance : spec.tolerance[i];
          worst = Math.max(worst, await compare(outputs[i], wants[i], tolerance));
        }
        return worst;
      } finally {
        for (const t of new Set([...outputs, ...tensors])) t.dispose();
      }
    },
  };
}

/** The seeded draws a family's generator uses; the same seed gives the same cases. */
export function checkSetup(seed: number): CheckSetup {
  const random = rng(seed);
  const int = (lo: number, hi: number) => lo + Math.floor(random() * (hi - lo + 1));
  return { int, pick: (values) => values[int(0, values.length - 1)], seed: () => int(1, 2 ** 31) };
}
