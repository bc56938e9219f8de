// Layer normalisation over the last dimension: y = (x - mean) * rstd * gamma + beta,
// rstd = 1 / sqrt(var + eps) with the biased (1/n) variance, as in torch.nn.LayerNorm.
//
// Layout: x and y [rows, n] row-major f32; gamma and beta [n]; with the `main_stats` entry also
// mean [rows] and rstd [rows] (what the backward pass needs).
// Includes: lane_vector (V/W: vec4 lanes when n % 4 == 0) and a row reduction (subgroup or shared).
// Tiling: one workgroup of WG lanes per row; lane l handles chunks l, l + WG, ... (params.n counts
// V chunks). Numerics: single pass, each lane keeps Welford-style (count, mean, M2) and folds in a
// whole chunk at a time (Chan et al.'s pairwise update); lanes are combined exactly with
// mean = sum(c_i mean_i) / n and M2 = sum(M2_i + c_i (mean_i - mean)^2), so no E[x^2] - E[x]^2
// cancellation. A second pass normalises.
// Limits: rows <= 65535^2 (2-D grid); any n >= 1.

struct Params {
  n: u32,
  rows: u32,
  grid_x: u32,
  eps: f32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> x: array<V>;
@group(0) @binding(2) var<storage, read> gamma: array<V>;
@group(0) @binding(3) var<storage, read> beta: array<V>;
@group(0) @binding(4) var<storage, read_write> y: array<V>;
@group(0) @binding(5) var<storage, read_write> mean: array<f32>;
@group(0) @binding(6) var<storage, read_write> rstd: array<f32>;

/** Normalises one row; returns (mean, rstd). */
fn normalize_row(row: u32, lid: u32) -> vec2<f32> {
  let n = params.n;
  let base = row * n;

  var count = 0.0;
  var mu = 0.0;
  var m2 = 0.0;
  for (var i = 0u; i < n; i += WG) {
    let j = i + lid;
    if (j < n) {
      let v = x[base + j];
      let chunk_mean = hsum(v) / f32(W);
      let d = v - V(chunk_mean);
      let chunk_m2 = hsum(d * d);
      let total = count + f32(W);
      let delta = chunk_mean - mu;
      mu += delta * (f32(W) / total);
      m2 += chunk_m2 + delta * delta * (count * f32(W) / total);
      count = total;
    }
  }
  let elements = f32(n * W);
  let row_mean = row_sum(count * mu, lid) / elements;
  let dm = mu - row_mean;
  let row_m2 = row_sum(m2 + count * dm * dm, lid);
  let inv_std = inverseSqrt(row_m2 / elements + params.eps);

  for (var i = 0u; i < n; i += WG) {
    let j = i + lid;
    if (j < n) {
      y[base + j] = (x[base + j] - V(row_mean)) * inv_std * gamma[j] + beta[j];
    }
  }
  return vec2<f32>(row_mean, inv_std);
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let row = wid.y * params.grid_x + wid.x;
  if (row >= params.rows) { return; }
  normalize_row(row, lid);
}

@compute @workgroup_size(WG)
fn main_stats(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let row = wid.y * params.grid_x + wid.x;
  if (row >= params.rows) { return; }
  let stats = normalize_row(row, lid);
  if (lid == 0u) {
    mean[row] = stats.x;
    rstd[row] = stats.y;
  }
}
