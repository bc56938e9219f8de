import type { AdapterDescription, Features, GpuContext } from '../../src/runtime/gpu.ts';
import { checkSetup, type KernelCheck } from './check.ts';
import { FAMILIES } from './families.ts';

export interface CaseResult {
  family: string;
  name: string;
  pass: boolean;
  /** Worst error in tolerance units (<= 1 passes); null when the case threw or the GPU reported an error. */
  maxErr: number | null;
  ms: number;
  error?: string;
}

/** What the kernel-check page publishes as `window.__results` and prints as JSON. */
export interface KernelCheckReport {
  done: boolean;
  seed: number;
  families: string[];
  adapter: AdapterDescription | null;
  features: Features | null;
  cases: CaseResult[];
  passed: number;
  failed: number;
  /** Set when no case could run (no WebGPU, no adapter, unknown family). */
  error?: string;
}

/** The cases of the named families (all when `names` is empty), drawn from `seed`. */
export function kernelChecks(names: readonly string[], seed: number): KernelCheck[] {
  const unknown = names.filter((n) => !(n in FAMILIES));
  if (unknown.length) throw new Error(`unknown kernel families: ${unknown.join(', ')} (known: ${Object.keys(FAMILIES).join(', ')})`);
  const setup = checkSetup(seed);
  return (names.length ? names : Object.keys(FAMILIES)).flatMap((n) => FAMILIES[n](setup));
}

/**
 * Runs the checks one after another. Each runs inside a validation error scope, so a shader that
 * this browser's WGSL compiler rejects fails its own case with the compiler's message.
 */
export async function runChecks(ctx: GpuContext, checks: readonly KernelCheck[], onResult: (r: CaseResult) => void): Promise<void> {
  for (const check of checks) {
    const start = performance.now();
    ctx.device.pushErrorScope('validation');
    let maxErr: number | null = null;
    let error: string | undefined;
    try {
      maxErr = await check.run(ctx);
    } catch (e) {
      error = (e as Error).message;
    }
    const gpuError = await ctx.device.popErrorScope();
    if (gpuError) {
      error = `GPU validation error: ${gpuError.message}${error ? ` (then: ${error})` : ''}`;
      maxErr = null;
    }
    const pass = error === undefined && maxErr !== null && maxErr <= 1;
    onResult({ family: check.family, name: check.name, pass, maxErr, ms: Math.round(performance.now() - start), ...(error ? { error } : {}) });
  }
}
