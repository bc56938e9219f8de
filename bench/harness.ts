/**
 * Shared benchmark plumbing. A kernel family contributes cases from bench/kernels/<family>.ts;
 * bench/kernels.ts runs them all. Every case verifies its own output against the CPU reference
 * before it is timed, and reports medians so runs on a noisy shared machine can be compared.
 */
import type { GpuContext } from '../src/runtime/gpu.ts';

export interface BenchResult {
  kernel: string;
  /** e.g. "1024x1024x1024" */
  shape: string;
  /** Median wall time of one run of the case (recorded, submitted, waited), in ms. */
  ms: number;
  gflops?: number;
  gbps?: number;
  verified: boolean;
  /** The same shape through @tensorflow/tfjs-backend-webgpu on the same adapter, when run. */
  tfjs_ms?: number;
  speedup_vs_tfjs?: number;
  /** Runs batched per timed sample (see bench/kernels.ts). */
  reps?: number;
  note?: string;
}

export interface BenchCase {
  kernel: string;
  shape: string;
  /** Floating-point operations of one run (for GFLOP/s), if meaningful. */
  flops?: number;
  /** Bytes moved by one run (for GB/s), if meaningful. */
  bytes?: number;
  /** Shown with the result (e.g. how the peer's computation differs). */
  note?: string;
  /** Allocate inputs; returns the run/verify/dispose closures. */
  setup(ctx: GpuContext): Promise<{
    /** Record and submit one run (no waiting). `reps` runs go into one recorder when > 1. */
    record(reps: number): void;
    /** Compare the output of a run with the CPU reference; true when within tolerance. */
    verify(): Promise<boolean>;
    dispose(): void;
  }>;
  /** Optional peer: the same computation with tfjs-webgpu; returns a function running it once and waiting. */
  tfjs?: (tf: typeof import('@tensorflow/tfjs-core')) => Promise<{ run(): Promise<void>; dispose(): void }>;
}

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}
