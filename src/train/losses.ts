/**
 * Typed wrappers for kernels/loss.wgsl. Each forward returns the scalar loss (a weighted mean over
 * rows, 0 when no row counts) and the state its backward reads; usable on their own for validation
 * losses, and by the autograd rules (src/train/rules.ts).
 */
import { AtelierGpuError } from '../runtime/errors.ts';
import { grid1d } from '../runtime/ops/grid.ts';
import { rowGrid } from '../runtime/ops/rows.ts';
import type { Recorder } from '../runtime/recorder.ts';
import type { Tensor } from '../runtime/tensor.ts';

/** Where a loss reads its predictions: `columns` columns at `col0` of a [rows, ld] matrix. */
export interface ColumnWindow {
  rows: number;
  columns: number;
  ld: number;
  col0: number;
}

export interface LossState {
  /** The loss, shape [1]. */
  loss: Tensor;
  /** Sum of row weights, shape [1] (the mean's denominator). */
  denom: Tensor;
  /** Per-row weights (mask x class weight; 0 for missing labels), read by backward. */
  rowWeight: Tensor;
  /** Per-row logsumexp (cross-entropy only). */
  lse: Tensor | null;
  window: ColumnWindow;
}

export interface CrossEntropyOptions {
  /** Per-class weights [classes] (class balancing). */
  classWeight?: Tensor;
  /** Per-row weights [rows], e.g. 0 at padding tokens. */
  mask?: Tensor;
  /** Read the logits from columns [col0, col0 + classes) of a wider matrix (one head of a fused output). */
  col0?: number;
  classes?: number;
}

export interface RegressionOptions {
  /** 0 (the default) for MSE, else the Huber loss's delta. */
  huberDelta?: number;
  /** Per-row weights [rows]; 0 where the target is missing. */
  mask?: Tensor;
  col0?: number;
}

export interface PinballOptions {
  mask?: Tensor;
  col0?: number;
}

function loss(rec: Recorder, entry: string) {
  return rec.ctx.kernels.get({ file: 'loss', entry });
}

function windowOf(op: string, pred: Tensor, columns: number | undefined, col0 = 0): ColumnWindow {
  if (pred.shape.length === 0 || pred.shape.length > 2) throw new AtelierGpuError('usage', `${op}: predictions must be [rows] or [rows, columns], got [${pred.shape.join(', ')}]`);
  const rows = pred.shape[0];
  const ld = pred.shape.length === 2 ? pred.shape[1] : 1;
  const cols = columns ?? ld - col0;
  if (!Number.isInteger(col0) || col0 < 0 || cols < 1 || col0 + cols > ld) {
    throw new AtelierGpuError('usage', `${op}: columns [${col0}, ${col0 + cols}) are outside predictions [${pred.shape.join(', ')}]`);
  }
  return { rows, columns: cols, ld, col0 };
}

function checkRows(op: string, name: string, t: Tensor | undefined, rows: number, dtype: Tensor['dtype'] = 'f32'): void {
  if (!t) return;
  if (t.size !== rows || t.dtype !== dtype) {
    throw new AtelierGpuError('usage', `${op}: ${name} must be ${dtype} with ${rows} elements (one per row), got ${t.dtype} [${t.shape.join(', ')}]`);
  }
}

function params(w: ColumnWindow, rowPitch: number, opts: { mask?: Tensor; classWeight?: Tensor; huberDelta?: number }) {
  return {
    rows: w.rows,
    classes: w.columns,
    ld: w.ld,
    col0: w.col0,
    row_pitch: rowPitch,
    use_mask: opts.mask ? 1 : 0,
    use_class_weight: opts.classWeight ? 1 : 0,
    huber_delta: opts.huberDelta ?? 0,
  };
}

/** Runs a `*_rows` kernel then the shared reduction into a LossState. */
function rowsThenReduce(
  rec: Recorder,
  entry: string,
  window: ColumnWindow,
  inputs: Record<string, Tensor>,
  opts: { mask?: Tensor; classWeight?: Tensor; huberDelta?: number },
  withLse: boolean,
): LossState {
  const ctx = rec.ctx;
  const rowLoss = ctx.empty([window.rows], 'f32', 'row-loss');
  const rowWeight = ctx.empty([window.rows], 'f32', 'row-weight');
  const lse = withLse ? ctx.empty([window.rows], 'f32', 'row-lse') : null;
  const placeholder = inputs.logits;
  const rowsKernel = loss(rec, entry);
  const g = grid1d(window.rows, rowsKernel.workgroupSize[0]);
  const bindings: Record<string, Tensor> = { ...inputs, mask: opts.mask ?? placeholder, row_loss: rowLoss, row_weight: rowWeight };
  if (rowsKernel.bindings.has('class_weight')) bindings.class_weight = opts.classWeight ?? placeholder;
  if (lse) bindings.lse = lse;
  rec.dispatch(rowsKernel, bindings, params(window, g.rowPitch, opts), g.workgroups);
  const out = ctx.empty([1], 'f32', `${entry.replace('_rows', '')}-loss`);
  const denom = ctx.empty([1], 'f32', 'loss-denominator');
  rec.dispatch(loss(rec, 'reduce_rows'), { row_loss: rowLoss, row_weight: rowWeight, loss: out, denom }, params(window, 0, opts), [1]);
  rowLoss.dispose();
  return { loss: out, denom, rowWeight, lse, window };
}

/** Release what a LossState keeps for backward (not the loss itself). */
export function disposeLossState(s: LossState): void {
  s.denom.dispose();
  s.rowWeight.dispose();
  s.lse?.dispose();
}

function gradientBuffer(rec: Recorder, pred: Tensor, into?: Tensor): Tensor {
  if (into && into.size !== pred.size) throw new AtelierGpuError('usage', `loss backward: gradient buffer [${into.shape.join(', ')}] does not match predictions [${pred.shape.join(', ')}]`);
  return into ?? rec.ctx.empty(pred.shape, 'f32', 'dpred');
}

/** Softmax cross-entropy with missing labels (-1) skipped, optional class weights and row mask. */
export function crossEntropy(rec: Recorder, logits: Tensor, labels: Tensor, opts: CrossEntropyOptions = {}): LossState {
  const op = 'crossEntropy';
  const window = windowOf(op, logits, opts.classes, opts.col0);
  if (logits.shape.length !== 2) throw new AtelierGpuError('usage', `${op}: logits must be [rows, classes], got [${logits.shape.join(', ')}]`);
  checkRows(op, 'labels', labels, window.rows, 'i32');
  checkRows(op, 'mask', opts.mask, window.rows);
  if (opts.classWeight && opts.classWeight.size !== window.columns) {
    throw new AtelierGpuError('usage', `${op}: class weights have ${opts.classWeight.size} values for ${window.columns} classes`);
  }
  return rowsThenReduce(rec, 'ce_rows', window, { logits, labels }, opts, true);
}

/**
 * d loss / d logits for `dloss` (shape [1]). Writes the window's columns of `into` when given (other
 * columns untouched; a fused heads gradient), else returns a new tensor shaped like the logits.
 */
export function crossEntropyBackward(rec: Recorder, state: LossState, logits: Tensor, labels: Tensor, dloss: Tensor, into?: Tensor): Tensor {
  const dlogits = gradientBuffer(rec, logits, into);
  const w = state.window;
  const grid = rowGrid(w.rows);
  rec.dispatch(loss(rec, 'ce_backward'), { logits, labels, lse: state.lse!, row_weight: state.rowWeight, denom: state.denom, dloss, dlogits }, params(w, grid.gridX, {}), grid.workgroups);
  return dlogits;
}

/** MSE (huberDelta 0) or Huber loss of one prediction column against targets, masked rows skipped. */
export function regression(rec: Recorder, pred: Tensor, target: Tensor, opts: RegressionOptions = {}): LossState {
  const op = 'regression';
  const window = windowOf(op, pred, 1, opts.col0);
  checkRows(op, 'target', target, window.rows);
  checkRows(op, 'mask', opts.mask, window.rows);
  if (!((opts.huberDelta ?? 0) >= 0)) throw new AtelierGpuError('usage', `${op}: huberDelta must be >= 0, got ${opts.huberDelta}`);
  return rowsThenReduce(rec, 'regression_rows', window, { logits: pred, targets: target }, opts, false);
}

export function regressionBackward(rec: Recorder, state: LossState, pred: Tensor, target: Tensor, dloss: Tensor, huberDelta = 0, into?: Tensor): Tensor {
  const dpred = gradientBuffer(rec, pred, into);
  const k = loss(rec, 'regression_backward');
  const g = grid1d(state.window.rows, k.workgroupSize[0]);
  rec.dispatch(k, { logits: pred, targets: target, row_weight: state.rowWeight, denom: state.denom, dloss, dlogits: dpred }, params(state.window, g.rowPitch, { huberDelta }), g.workgroups);
  return dpred;
}

/** Pinball (quantile) loss: one prediction column per quantile level in `taus` [quantiles]. */
export function pinball(rec: Recorder, pred: Tensor, target: Tensor, taus: Tensor, opts: PinballOptions = {}): LossState {
  const op = 'pinball';
  const window = windowOf(op, pred, taus.size, opts.col0);
  checkRows(op, 'target', target, window.rows);
  checkRows(op, 'mask', opts.mask, window.rows);
  return rowsThenReduce(rec, 'pinball_rows', window, { logits: pred, targets: target, taus }, opts, false);
}

export function pinballBackward(rec: Recorder, state: LossState, pred: Tensor, target: Tensor, taus: Tensor, dloss: Tensor, into?: Tensor): Tensor {
  const dpred = gradientBuffer(rec, pred, into);
  const k = loss(rec, 'pinball_backward');
  const w = state.window;
  const g = grid1d(w.rows * w.columns, k.workgroupSize[0]);
  rec.dispatch(k, { logits: pred, targets: target, taus, row_weight: state.rowWeight, denom: state.denom, dloss, dlogits: dpred }, params(w, g.rowPitch, {}), g.workgroups);
  return dpred;
}
