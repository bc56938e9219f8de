// AdamW over all parameters, the global gradient norm with clipping, and the non-finite check.
// Everything stays on the GPU: the only readback per step is the small `stats` tensor (losses,
// norm, per-tensor flags), which the host reads together with the loss.
//
// Layout:
//   partials: f32 pairs (sum of squares, count of non-finite values), one pair per workgroup of
//             sumsq_partials; parameter i owns pairs [ranges[i], ranges[i + 1]).
//   stats:    [0] global gradient norm before clipping, [1] clip scale applied to every gradient,
//             [2] number of non-finite values (gradients and losses; > 0 skips the update),
//             [3] unused, [4, 4 + losses) the step's losses (copy_scalar),
//             then per parameter its gradient's sum of squares, then its non-finite count.
// Kernels, in recording order:
//   sumsq_partials: one dispatch per parameter, `groups` workgroups of WG threads striding over its
//                   gradient; a workgroup reduces in shared memory (fixed order: deterministic).
//                   n = 0 writes zero pairs (a parameter without a gradient this step).
//   copy_scalar:    stats[slot] = src[0] (a loss into the stats block; keeps the compute pass open).
//   finalize:       one workgroup: per-parameter sums (thread t takes parameters t, t + WG, ...),
//                   the global norm, clip scale = min(1, max_norm / (norm + 1e-6)) (1 when
//                   max_norm is 0), the non-finite count including the losses.
//   adamw:          one thread per element: g = clip * grad; m, v moments; bias-corrected step;
//                   decoupled weight decay p -= lr * wd * p. Skipped entirely when stats[2] > 0,
//                   so a NaN never reaches the weights or the moments.
// A value is non-finite when its exponent bits are all ones (integer test: no fast-math can fold it).
// Limits: elements per parameter below 2^32; sums of squares in f32 (a norm above ~1e19 overflows to
// Inf: the clip scale becomes 0 for that step, the update is then weight decay only).

const WG = 256u;

struct Params {
  n: u32,
  row_pitch: u32,
  groups: u32,
  slot: u32,
  tensors: u32,
  losses: u32,
  max_norm: f32,
  lr: f32,
  beta1: f32,
  beta2: f32,
  eps: f32,
  weight_decay: f32,
  // 1 - beta^t for the bias corrections
  correction1: f32,
  correction2: f32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> grad: array<f32>;
@group(0) @binding(2) var<storage, read_write> partials: array<f32>;
@group(0) @binding(3) var<storage, read> ranges: array<u32>;
@group(0) @binding(4) var<storage, read_write> stats: array<f32>;
@group(0) @binding(5) var<storage, read> src: array<f32>;
@group(0) @binding(6) var<storage, read_write> param: array<f32>;
@group(0) @binding(7) var<storage, read_write> m: array<f32>;
@group(0) @binding(8) var<storage, read_write> v: array<f32>;
@group(0) @binding(9) var<storage, read> stats_in: array<f32>;

var<workgroup> shared_sumsq: array<f32, WG>;
var<workgroup> shared_bad: array<f32, WG>;

fn non_finite(x: f32) -> bool {
  return (bitcast<u32>(x) & 0x7f800000u) == 0x7f800000u;
}

/** Tree reduction of the two shared arrays; the totals end in slot 0. */
fn reduce_shared(t: u32) {
  workgroupBarrier();
  for (var half = WG / 2u; half > 0u; half /= 2u) {
    if (t < half) {
      shared_sumsq[t] += shared_sumsq[t + half];
      shared_bad[t] += shared_bad[t + half];
    }
    workgroupBarrier();
  }
}

@compute @workgroup_size(WG)
fn sumsq_partials(@builtin(local_invocation_index) t: u32, @builtin(workgroup_id) wg: vec3<u32>) {
  var s = 0.0;
  var bad = 0.0;
  for (var i = wg.x * WG + t; i < params.n; i += params.groups * WG) {
    let g = grad[i];
    if (non_finite(g)) {
      bad += 1.0;
    } else {
      s += g * g;
    }
  }
  shared_sumsq[t] = s;
  shared_bad[t] = bad;
  reduce_shared(t);
  if (t == 0u) {
    let pair = 2u * (params.slot + wg.x);
    partials[pair] = shared_sumsq[0];
    partials[pair + 1u] = shared_bad[0];
  }
}

@compute @workgroup_size(1)
fn copy_scalar() {
  stats[params.slot] = src[0];
}

@compute @workgroup_size(WG)
fn finalize(@builtin(local_invocation_index) t: u32) {
  let per_sumsq = 4u + params.losses;
  let per_bad = per_sumsq + params.tensors;
  var total = 0.0;
  var bad = 0.0;
  for (var i = t; i < params.tensors; i += WG) {
    var s = 0.0;
    var b = 0.0;
    for (var j = ranges[i]; j < ranges[i + 1u]; j++) {
      s += partials[2u * j];
      b += partials[2u * j + 1u];
    }
    stats[per_sumsq + i] = s;
    stats[per_bad + i] = b;
    total += s;
    bad += b;
  }
  shared_sumsq[t] = total;
  shared_bad[t] = bad;
  reduce_shared(t);
  if (t == 0u) {
    var bad_total = shared_bad[0];
    for (var l = 0u; l < params.losses; l++) {
      if (non_finite(stats[4u + l])) { bad_total += 1.0; }
    }
    let norm = sqrt(shared_sumsq[0]);
    stats[0] = norm;
    stats[1] = select(1.0, min(1.0, params.max_norm / (norm + 1e-6)), params.max_norm > 0.0);
    stats[2] = bad_total;
    stats[3] = 0.0;
  }
}

@compute @workgroup_size(WG)
fn adamw(@builtin(global_invocation_id) gid: vec3<u32>) {
  let i = gid.y * params.row_pitch + gid.x;
  if (i >= params.n || stats_in[2] > 0.0) { return; }
  let g = grad[i] * stats_in[1];
  let m1 = params.beta1 * m[i] + (1.0 - params.beta1) * g;
  let v1 = params.beta2 * v[i] + (1.0 - params.beta2) * g * g;
  m[i] = m1;
  v[i] = v1;
  let m_hat = m1 / params.correction1;
  let v_hat = v1 / params.correction2;
  let p = param[i];
  param[i] = p - params.lr * (m_hat / (sqrt(v_hat) + params.eps) + params.weight_decay * p);
}
