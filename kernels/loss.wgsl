// Losses with their gradients: softmax + cross-entropy fused, regression (MSE or Huber) and the
// pinball (quantile) loss. Each loss is a weighted mean over rows: L = sum_r w_r l_r / sum_r w_r,
// and 0 (with a zero gradient) when no row has weight.
//
// Layout: predictions are read from a row-major f32 matrix with row stride `ld`, starting at column
// `col0`, so one head of a fused heads output [rows, ld] can be scored without a copy; gradients are
// written with the same stride and offset (other columns are left untouched).
//   ce_rows:          logits [rows, classes] (+ labels i32 [rows]; -1 = missing, skipped; optional
//                     class weights [classes] and mask [rows] multiply w_r). Saves the row's
//                     logsumexp. A label >= classes makes the row loss +Inf, so the trainer's
//                     non-finite check stops with the loss named instead of training on garbage.
//   ce_backward:      dlogits = dloss * w_r / W * (softmax - onehot); one workgroup of ROW_LANES
//                     lanes per row (2-D grid, row = wid.y * row_pitch + wid.x), so the row's
//                     label, lse and weight are lane-uniform loads and only the logits vary.
//   regression_rows:  pred [rows] at column col0, targets [rows], mask [rows]:
//                     huber_delta == 0: l = d^2 (MSE), else Huber l = d^2/2 (|d| <= delta),
//                     delta (|d| - delta/2) otherwise; d = pred - targets.
//   regression_backward
//   pinball_rows:     pred [rows, classes] (one column per quantile), targets [rows], taus [classes]:
//                     l = mean_q max(tau_q e, (tau_q - 1) e), e = targets - pred_q.
//   pinball_backward: d l / d pred_q = (e > 0 ? -tau_q : 1 - tau_q) / classes.
//   reduce_rows:      one workgroup sums the weighted row losses and the weights in a fixed order
//                     (strided per-thread sums, then a tree): loss[0] = sum / W, denom[0] = W.
// Optional inputs are switched by params (use_mask, use_class_weight); the host binds a placeholder
// buffer when they are off. Row kernels run one thread per row (a row of `classes` logits is read
// three times); limits: rows * ld below 2^32, one reduce workgroup (fine up to ~1e6 rows).

const WG = 256u;
// ce_backward: one workgroup per row, lanes over the classes
const ROW_LANES = 64u;

struct Params {
  rows: u32,
  classes: u32,
  ld: u32,
  col0: u32,
  row_pitch: u32,
  use_mask: u32,
  use_class_weight: u32,
  huber_delta: f32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> logits: array<f32>;
@group(0) @binding(2) var<storage, read> labels: array<i32>;
@group(0) @binding(3) var<storage, read> targets: array<f32>;
@group(0) @binding(4) var<storage, read> class_weight: array<f32>;
@group(0) @binding(5) var<storage, read> mask: array<f32>;
@group(0) @binding(6) var<storage, read> taus: array<f32>;
@group(0) @binding(7) var<storage, read_write> row_loss: array<f32>;
@group(0) @binding(8) var<storage, read_write> row_weight: array<f32>;
@group(0) @binding(9) var<storage, read_write> lse: array<f32>;
@group(0) @binding(10) var<storage, read_write> loss: array<f32>;
@group(0) @binding(11) var<storage, read_write> denom: array<f32>;
@group(0) @binding(12) var<storage, read> dloss: array<f32>;
@group(0) @binding(13) var<storage, read_write> dlogits: array<f32>;

var<workgroup> partial_loss: array<f32, WG>;
var<workgroup> partial_weight: array<f32, WG>;

fn index(gid: vec3<u32>) -> u32 {
  return gid.y * params.row_pitch + gid.x;
}

fn mask_weight(r: u32) -> f32 {
  return select(1.0, mask[r], params.use_mask != 0u);
}

/** dloss / W, or 0 when no row counted. */
fn grad_scale() -> f32 {
  let w = denom[0];
  return select(0.0, dloss[0] / w, w > 0.0);
}

@compute @workgroup_size(WG)
fn ce_rows(@builtin(global_invocation_id) gid: vec3<u32>) {
  let r = index(gid);
  if (r >= params.rows) { return; }
  let base = r * params.ld + params.col0;
  // online logsumexp: one pass keeps the running max m and sum s of exp(v - m)
  var m = -3.0e38;
  var s = 0.0;
  for (var c = 0u; c < params.classes; c++) {
    let v = logits[base + c];
    if (v > m) {
      s = s * exp(m - v) + 1.0;
      m = v;
    } else {
      s += exp(v - m);
    }
  }
  let row_lse = m + log(s);
  lse[r] = row_lse;
  let y = labels[r];
  var w = mask_weight(r);
  var l = 0.0;
  if (y < 0 || w == 0.0) {
    w = 0.0;
  } else if (u32(y) >= params.classes) {
    l = bitcast<f32>(0x7f800000u + (params.rows & 0u)); // +Inf, computed at run time
  } else {
    if (params.use_class_weight != 0u) { w *= class_weight[y]; }
    l = w * (row_lse - logits[base + u32(y)]);
  }
  row_loss[r] = l;
  row_weight[r] = w;
}

@compute @workgroup_size(ROW_LANES)
fn ce_backward(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let r = wid.y * params.row_pitch + wid.x;
  if (r >= params.rows) { return; }
  // the row's values are read once per lane at a lane-uniform address (one load per subgroup)
  let scale = grad_scale() * row_weight[r];
  let row_lse = lse[r];
  let label = labels[r];
  let base = r * params.ld + params.col0;
  for (var c = lid; c < params.classes; c += ROW_LANES) {
    let onehot = select(0.0, 1.0, label == i32(c));
    dlogits[base + c] = scale * (exp(logits[base + c] - row_lse) - onehot);
  }
}

fn huber_grad(d: f32) -> f32 {
  let delta = params.huber_delta;
  return select(clamp(d, -delta, delta), 2.0 * d, delta == 0.0);
}

@compute @workgroup_size(WG)
fn regression_rows(@builtin(global_invocation_id) gid: vec3<u32>) {
  let r = index(gid);
  if (r >= params.rows) { return; }
  let w = mask_weight(r);
  let d = logits[r * params.ld + params.col0] - targets[r];
  let delta = params.huber_delta;
  var l: f32;
  if (delta == 0.0) {
    l = d * d;
  } else if (abs(d) <= delta) {
    l = 0.5 * d * d;
  } else {
    l = delta * (abs(d) - 0.5 * delta);
  }
  // a masked row contributes exactly 0 even when its targets is NaN (a missing price)
  row_loss[r] = select(0.0, w * l, w != 0.0);
  row_weight[r] = w;
}

@compute @workgroup_size(WG)
fn regression_backward(@builtin(global_invocation_id) gid: vec3<u32>) {
  let r = index(gid);
  if (r >= params.rows) { return; }
  let at = r * params.ld + params.col0;
  let w = row_weight[r];
  dlogits[at] = select(0.0, grad_scale() * w * huber_grad(logits[at] - targets[r]), w != 0.0);
}

@compute @workgroup_size(WG)
fn pinball_rows(@builtin(global_invocation_id) gid: vec3<u32>) {
  let r = index(gid);
  if (r >= params.rows) { return; }
  let w = mask_weight(r);
  let base = r * params.ld + params.col0;
  var l = 0.0;
  for (var q = 0u; q < params.classes; q++) {
    let e = targets[r] - logits[base + q];
    let tau = taus[q];
    l += max(tau * e, (tau - 1.0) * e);
  }
  row_loss[r] = select(0.0, w * l / f32(params.classes), w != 0.0);
  row_weight[r] = w;
}

@compute @workgroup_size(WG)
fn pinball_backward(@builtin(global_invocation_id) gid: vec3<u32>) {
  let i = index(gid);
  if (i >= params.rows * params.classes) { return; }
  let r = i / params.classes;
  let q = i % params.classes;
  let at = r * params.ld + params.col0 + q;
  let w = row_weight[r];
  let tau = taus[q];
  let slope = select(1.0 - tau, -tau, targets[r] - logits[at] > 0.0);
  dlogits[at] = select(0.0, grad_scale() * w * slope / f32(params.classes), w != 0.0);
}

@compute @workgroup_size(WG)
fn reduce_rows(@builtin(local_invocation_index) t: u32) {
  var l = 0.0;
  var w = 0.0;
  for (var r = t; r < params.rows; r += WG) {
    l += row_loss[r];
    w += row_weight[r];
  }
  partial_loss[t] = l;
  partial_weight[t] = w;
  workgroupBarrier();
  for (var half = WG / 2u; half > 0u; half /= 2u) {
    if (t < half) {
      partial_loss[t] += partial_loss[t + half];
      partial_weight[t] += partial_weight[t + half];
    }
    workgroupBarrier();
  }
  if (t == 0u) {
    let total_w = partial_weight[0];
    loss[0] = select(0.0, partial_loss[0] / total_w, total_w > 0.0);
    denom[0] = total_w;
  }
}
