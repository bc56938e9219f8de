// Backward of kernels/layernorm.wgsl: y = xhat * gamma + beta, xhat = (x - mean) * rstd.
//
// Layout: x, dy, dx [rows, n] row-major f32; gamma, dgamma, dbeta [n]; mean, rstd [rows] saved by
// the forward's `main_stats` entry (so nothing is recomputed).
// Includes: lane_vector (V/W: vec4 lanes when n % 4 == 0) and a row reduction (subgroup or shared).
//   dx:      one workgroup of WG lanes per row (lane l takes chunks l, l + WG, ...):
//            g = dy * gamma; dx = rstd * (g - mean(g) - xhat * mean(g * xhat)). Two row sums.
//   dparams: one thread per V chunk of columns, looping over all rows in order (deterministic, no
//            atomics): dgamma = sum_rows dy * xhat, dbeta = sum_rows dy. Cost: n / W threads of
//            `rows` steps each; adjacent threads read adjacent addresses.
// Limits: rows <= 65535^2 (2-D grid) for dx; n / W columns per dparams dispatch below 65535 * WG.

struct Params {
  n: u32,
  rows: u32,
  grid_x: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> x: array<V>;
@group(0) @binding(2) var<storage, read> dy: array<V>;
@group(0) @binding(3) var<storage, read> gamma: array<V>;
@group(0) @binding(4) var<storage, read> mean: array<f32>;
@group(0) @binding(5) var<storage, read> rstd: array<f32>;
@group(0) @binding(6) var<storage, read_write> dx: array<V>;
@group(0) @binding(7) var<storage, read_write> dgamma: array<V>;
@group(0) @binding(8) var<storage, read_write> dbeta: array<V>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let row = wid.y * params.grid_x + wid.x;
  if (row >= params.rows) { return; }
  let n = params.n;
  let base = row * n;
  let mu = V(mean[row]);
  let inv = rstd[row];
  var sum_g = 0.0;
  var sum_gx = 0.0;
  for (var i = 0u; i < n; i += WG) {
    let j = i + lid;
    if (j < n) {
      let g = dy[base + j] * gamma[j];
      sum_g += hsum(g);
      sum_gx += hsum(g * (x[base + j] - mu) * inv);
    }
  }
  let elements = f32(n * W);
  let mean_g = V(row_sum(sum_g, lid) / elements);
  let mean_gx = V(row_sum(sum_gx, lid) / elements);
  for (var i = 0u; i < n; i += WG) {
    let j = i + lid;
    if (j < n) {
      let xhat = (x[base + j] - mu) * inv;
      dx[base + j] = inv * (dy[base + j] * gamma[j] - mean_g - xhat * mean_gx);
    }
  }
}

@compute @workgroup_size(WG)
fn dparams(@builtin(global_invocation_id) gid: vec3<u32>) {
  let j = gid.y * params.grid_x * WG + gid.x;
  if (j >= params.n) { return; }
  var sg = V(0.0);
  var sb = V(0.0);
  for (var r = 0u; r < params.rows; r++) {
    let d = dy[r * params.n + j];
    sg += d * (x[r * params.n + j] - V(mean[r])) * rstd[r];
    sb += d;
  }
  dgamma[j] = sg;
  dbeta[j] = sb;
}
