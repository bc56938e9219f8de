// Row-wise softmax over the last dimension, numerically stable.
//
// Layout: x and out are [rows, n] row-major f32 (out must be a different buffer).
// Includes: lane_vector (V/W: vec4 lanes when n % 4 == 0) and a row reduction (subgroup or shared).
// Tiling: one workgroup of WG lanes per row; lane l handles the chunks l, l + WG, ... of the row
// (params.n counts V chunks). Pass 1 keeps, per lane, a running max and a sum of exponentials
// rescaled to it (online softmax, one read of the row); lanes are merged with row_max/row_sum.
// Pass 2 writes exp(x - max) / sum. Any n >= 1 (n < WG leaves lanes idle).
// Masking: -inf inputs get probability 0; a row that is entirely -inf comes out as zeros, not NaN.
// Entry `masked` (the GEMM attention's scores -> probs, read as vec4s): rows come in blocks of block_rows
// (one block per batch item and head); row i of a block keeps columns < valid_cols, and with causal
// only columns <= past + i; rows i >= valid_rows and masked columns come out as 0 (padding of the
// GEMM operands to multiples of 4, and the causal mask, with no -inf tensor in memory).
// Limits: rows <= 65535^2 (2-D grid, row = wid.y * grid_x + wid.x); n < 2^32.

const LOWEST = -3.4028234663852886e38; // start of a running max; exp(-inf - LOWEST) is 0, never NaN

struct Params {
  n: u32,
  rows: u32,
  grid_x: u32,
  block_rows: u32,
  valid_rows: u32,
  valid_cols: u32,
  causal: u32,
  past: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> x: array<V>;
@group(0) @binding(2) var<storage, read_write> out: array<V>;
// `masked` reads and writes vec4s whatever V is (its rows are multiples of 4), so it has its own
// bindings (an entry binds only the variables it uses).
@group(0) @binding(3) var<storage, read> scores: array<vec4<f32>>;
@group(0) @binding(4) var<storage, read_write> probs: array<vec4<f32>>;

/** The row's max and 1 / sum of exponentials from each lane's running (max, rescaled sum); 1 / 0 is 0. */
fn row_normaliser(m: f32, s: f32, lid: u32) -> vec2<f32> {
  let row_m = row_max(m, lid);
  let row_s = row_sum(s * exp(m - row_m), lid);
  return vec2<f32>(row_m, select(0.0, 1.0 / row_s, row_s > 0.0));
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let row = wid.y * params.grid_x + wid.x;
  if (row >= params.rows) { return; }
  let n = params.n;
  let base = row * n;

  var m = LOWEST;
  var s = 0.0;
  for (var i = 0u; i < n; i += WG) {
    let j = i + lid;
    if (j < n) {
      let v = x[base + j];
      let nm = max(m, hmax(v));
      s = s * exp(m - nm) + hsum(exp(v - nm));
      m = nm;
    }
  }
  let norm = row_normaliser(m, s, lid);
  let row_m = norm.x;
  let inv = norm.y;

  for (var i = 0u; i < n; i += WG) {
    let j = i + lid;
    if (j < n) {
      out[base + j] = exp(x[base + j] - row_m) * inv;
    }
  }
}

fn max4(v: vec4<f32>) -> f32 {
  return max(max(v.x, v.y), max(v.z, v.w));
}

/** Columns of `row` that the mask keeps (`masked`): [0, limit). */
fn kept_columns(row: u32) -> u32 {
  let i = row % params.block_rows;
  if (i >= params.valid_rows) { return 0u; }
  if (params.causal != 0u) { return min(params.valid_cols, params.past + i + 1u); }
  return params.valid_cols;
}

@compute @workgroup_size(WG)
fn masked(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let row = wid.y * params.grid_x + wid.x;
  if (row >= params.rows) { return; }
  let n = params.n;
  let base = row * n;
  let limit = vec4<u32>(kept_columns(row));
  let offsets = vec4<u32>(0u, 1u, 2u, 3u);

  var m = LOWEST;
  var s = 0.0;
  for (var i = 0u; i < n; i += WG) {
    let j = i + lid;
    if (j < n) {
      let keep = vec4<u32>(4u * j) + offsets < limit;
      let v = scores[base + j];
      let nm = max(m, max4(select(vec4<f32>(LOWEST), v, keep)));
      s = s * exp(m - nm) + dot(select(vec4<f32>(0.0), exp(v - nm), keep), vec4<f32>(1.0));
      m = nm;
    }
  }
  let norm = row_normaliser(m, s, lid);
  let row_m = norm.x;
  let inv = norm.y;

  for (var i = 0u; i < n; i += WG) {
    let j = i + lid;
    if (j < n) {
      let keep = vec4<u32>(4u * j) + offsets < limit;
      probs[base + j] = select(vec4<f32>(0.0), exp(scores[base + j] - row_m) * inv, keep);
    }
  }
}
