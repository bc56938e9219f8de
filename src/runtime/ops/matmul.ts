import { AtelierGpuError } from '../errors.ts';
import type { GpuContext } from '../gpu.ts';
import type { Recorder } from '../recorder.ts';
import type { Tensor } from '../tensor.ts';
import { ACTIVATION_CODE, type Activation } from './elementwise.ts';
import { ceilDiv } from './grid.ts';
import { layerNorm } from './layernorm.ts';
import { padAxis, transpose } from './layout.ts';

/**
 * Matrix multiplication and its fused epilogue (kernels/matmul.wgsl, matvec.wgsl, gemm.wgsl).
 *
 * The kernels read both operands K-major: A as [rows, k] and B as [n, k] (nn.Linear's weight
 * layout), with k a multiple of 4. This op brings other layouts to that form with scratch copies
 * recorded before the product: a transposed A (transA), a B given as [k, n] (transB false), and K
 * padded with zeros to a multiple of 4. Those copies are cheap next to the product, which on
 * lavapipe runs ~1.7x faster with K-major B than with B read along n (measured, see gemm.wgsl).
 */

/** The fused epilogue shared by matmul and conv2d: out = act(alpha * product + bias) (+ out). */
export interface Epilogue {
  /** [n], added to every row before the activation. */
  bias?: Tensor;
  activation?: Activation;
  /** Scales the product (not the bias); default 1. */
  alpha?: number;
  /** Add the result into `out` (which must be given) instead of overwriting it: gradient accumulation. */
  accumulate?: boolean;
  /** Write here instead of allocating; must have the output's shape, f32. */
  out?: Tensor;
}

export interface MatmulOptions extends Epilogue {
  /** A is stored [..., k, m]. */
  transA?: boolean;
  /** B is stored [..., n, k] (the nn.Linear weight layout [out, in], the fast path). */
  transB?: boolean;
  /** 'auto' (default) runs matvec for up to MATVEC_MAX_ROWS rows and the 32 x 32 tile kernel otherwise. */
  kernel?: 'auto' | 'tile' | 'matvec';
  /**
   * LayerNorm each row of A first (gamma and beta f32 [k]): out = LayerNorm(A) · B^T + ... The
   * matvec kernel fuses it (no normalised copy of A, no extra dispatch); on the tile path, or with
   * k not a multiple of 4, the layernorm kernel runs first into a scratch tensor. Not with transA.
   */
  normalizeA?: { gamma: Tensor; beta: Tensor; eps: number };
}

/**
 * Rows up to which 'auto' picks the matrix-vector kernel. Measured on lavapipe (CPU time per run,
 * k x n = 384 x 1536, 128 x 512, 1536 x 384 f16): matvec takes 0.55-0.75x the tile kernel's time at
 * 1-2 rows, 0.75-1.25x at 4, 1.3-1.7x at 8. bench/kernels/matmul.ts times both.
 */
export const MATVEC_MAX_ROWS = 4;

/** Output tile (rows and columns) of one GEMM workgroup: kernels/gemm.wgsl TILE. */
export const GEMM_TILE = 32;
/** Output columns of one matvec workgroup: kernels/matvec.wgsl MV_COLS. */
const MATVEC_COLS = 16;

/**
 * The include that shares A rows among the 8 lanes of a GEMM workgroup: subgroup broadcasts when the
 * workgroup is one subgroup (subgroups with a minimum size of at least 8), else workgroup memory.
 */
export function gemmSharing(ctx: GpuContext): 'gemm_subgroup' | 'gemm_shared' {
  return ctx.features.subgroups && ctx.features.subgroupMinSize >= 8 ? 'gemm_subgroup' : 'gemm_shared';
}

const describe = (t: Tensor) => `${t.dtype} [${t.shape.join(', ')}]`;
const product = (dims: readonly number[]) => dims.reduce((p, d) => p * d, 1);
export const roundUp4 = (k: number) => Math.ceil(k / 4) * 4;

/** The epilogue's kernel parameters (kernels/gemm.wgsl: chosen at run time, not specialised). */
export interface EpilogueParams {
  alpha: number;
  act: number;
  /** Flags: 1 add bias, 2 accumulate into out. */
  epilogue: number;
}

/** Checks the epilogue's tensors for an output of `shape`; returns the output tensor and the kernel parameters. */
export function prepareEpilogue(rec: Recorder, op: string, shape: readonly number[], e: Epilogue): { out: Tensor; params: EpilogueParams } {
  const n = shape[shape.length - 1];
  if (e.bias && (e.bias.dtype !== 'f32' || e.bias.size !== n || e.bias.shape.length !== 1)) {
    throw new AtelierGpuError('usage', `${op}: bias must be f32 [${n}], got ${describe(e.bias)}`);
  }
  if (e.accumulate && !e.out) throw new AtelierGpuError('usage', `${op}: accumulate needs an out tensor to add into`);
  if (e.out && (e.out.dtype !== 'f32' || e.out.shape.length !== shape.length || e.out.shape.some((d, i) => d !== shape[i]))) {
    throw new AtelierGpuError('usage', `${op}: out must be f32 [${shape.join(', ')}], got ${describe(e.out)}`);
  }
  const alpha = e.alpha ?? 1;
  if (!Number.isFinite(alpha)) throw new AtelierGpuError('usage', `${op}: alpha must be finite, got ${alpha}`);
  const out = e.out ?? rec.ctx.empty(shape, 'f32', op);
  const epilogue = (e.bias ? 1 : 0) | (e.accumulate ? 2 : 0);
  return { out, params: { alpha, act: ACTIVATION_CODE[e.activation ?? 'none'], epilogue } };
}

/** Element type define for a weight operand read as vec4s. */
export function weightType(w: Tensor): string {
  return w.dtype === 'f16' ? 'vec4<f16>' : 'vec4<f32>';
}

/** A scratch copy, handed back to the pool once the recording is submitted. */
function scratch(rec: Recorder, t: Tensor): Tensor {
  rec.disposeAfterSubmit(t);
  return t;
}

/**
 * out = act(alpha * op(A) · op(B) + bias) (+ out when accumulate), batched over leading dimensions.
 *
 * A is [..., m, k] ([..., k, m] with transA) f32. B is [..., k, n] or, with transB, [..., n, k]; f32,
 * or f16 (weights; needs transB and k a multiple of 4; arithmetic stays f32). Batch dimensions: equal
 * in A and B, or B of rank 2 (shared by every batch: A's rows are folded into one product), or A of
 * rank 2. The output is [...batch, m, n] f32.
 */
export function matmul(rec: Recorder, a: Tensor, b: Tensor, opts: MatmulOptions = {}): Tensor {
  const shapes = `A ${describe(a)}${opts.transA ? ' (transA)' : ''}, B ${describe(b)}${opts.transB ? ' (transB)' : ''}`;
  if (a.shape.length < 2 || b.shape.length < 2) throw new AtelierGpuError('usage', `matmul: A and B need at least 2 dimensions: ${shapes}`);
  if (a.dtype !== 'f32') throw new AtelierGpuError('usage', `matmul: A must be f32: ${shapes}`);
  if (b.dtype !== 'f32' && b.dtype !== 'f16') throw new AtelierGpuError('usage', `matmul: B must be f32 or f16: ${shapes}`);
  const [m, k] = opts.transA ? [a.dim(-1), a.dim(-2)] : [a.dim(-2), a.dim(-1)];
  const [kb, n] = opts.transB ? [b.dim(-1), b.dim(-2)] : [b.dim(-2), b.dim(-1)];
  if (k !== kb) throw new AtelierGpuError('usage', `matmul: inner dimensions differ (${k} vs ${kb}): ${shapes}`);
  if (b.dtype === 'f16' && (!opts.transB || k % 4 !== 0)) {
    throw new AtelierGpuError('usage', `matmul: f16 B must be stored [n, k] (transB) with k a multiple of 4: ${shapes}`);
  }
  const aBatch = a.shape.slice(0, -2);
  const bBatch = b.shape.slice(0, -2);
  if (aBatch.length > 0 && bBatch.length > 0 && (aBatch.length !== bBatch.length || aBatch.some((d, i) => d !== bBatch[i]))) {
    throw new AtelierGpuError('usage', `matmul: batch dimensions differ: ${shapes}`);
  }
  // With a shared B (rank 2), A's batches are just more rows of one product.
  const foldRows = bBatch.length === 0;
  const batch = foldRows ? 1 : product(bBatch);
  const rows = foldRows ? product(aBatch) * m : m;
  const shape = [...(foldRows ? aBatch : bBatch), m, n];
  const useMatvec = opts.kernel === 'matvec' || (opts.kernel !== 'tile' && rows <= MATVEC_MAX_ROWS);
  if (useMatvec && rows > MATVEC_MAX_ROWS) throw new AtelierGpuError('usage', `matmul: the matvec kernel takes at most ${MATVEC_MAX_ROWS} rows, got ${rows}: ${shapes}`);
  const norm = opts.normalizeA;
  if (norm && opts.transA) throw new AtelierGpuError('usage', `matmul: normalizeA normalises rows of A, which transA does not store: ${shapes}`);
  if (norm && (norm.gamma.size !== k || norm.beta.size !== k)) throw new AtelierGpuError('usage', `matmul: normalizeA's gamma and beta need k = ${k} elements: ${shapes}`);
  const fuseNorm = norm !== undefined && useMatvec && k % 4 === 0;
  if (norm && !fuseNorm) a = scratch(rec, layerNorm(rec, a, norm.gamma, norm.beta, { eps: norm.eps }).y);
  const { out, params: epilogue } = prepareEpilogue(rec, 'matmul', shape, opts);
  if (out.size === 0) return out;

  let aK = opts.transA ? scratch(rec, transpose(rec, a)) : a;
  let bK = opts.transB ? b : scratch(rec, transpose(rec, b));
  const k4 = roundUp4(k);
  if (k4 !== k) {
    aK = scratch(rec, padAxis(rec, aK, -1, 0, k4));
    bK = scratch(rec, padAxis(rec, bK, -1, 0, k4));
  }

  const ctx = rec.ctx;
  const includes = ['activation', gemmSharing(ctx), 'gemm'];
  // matvec is specialised for 1, 2 or 4 rows: fewer pipelines to compile, the spare rows cost little.
  const kernel = useMatvec
    ? ctx.kernels.get({
        file: 'matvec',
        entry: 'matvec',
        includes: [...includes, 'matmul'],
        defines: { BT: weightType(b), MV_ROWS: 2 ** Math.ceil(Math.log2(rows)), NORM_A: fuseNorm, NORM_EPS: fuseNorm ? norm.eps : 0 },
      })
    : ctx.kernels.get({ file: 'matmul', entry: 'matmul', includes, defines: { BT: weightType(b) } });
  const params = {
    ...epilogue,
    m: rows,
    n,
    k: k4,
    a_batch: aBatch.length > 0 && !foldRows ? m * k4 : 0,
    b_batch: foldRows ? 0 : n * k4,
    c_batch: rows * n,
  };
  // Without a bias the binding still needs a buffer: A is read-only in this dispatch too.
  // Likewise ln_gamma / ln_beta of the matvec kernel without a fused norm.
  const bindings = { a: aK, b: bK, bias: opts.bias ?? aK, out, ...(useMatvec ? { ln_gamma: fuseNorm ? norm.gamma : aK, ln_beta: fuseNorm ? norm.beta : aK } : {}) };
  const grid: [number, number, number] = useMatvec ? [ceilDiv(n, MATVEC_COLS), 1, batch] : [ceilDiv(n, GEMM_TILE), ceilDiv(rows, GEMM_TILE), batch];
  rec.dispatch(kernel, bindings, params, grid);
  return out;
}
