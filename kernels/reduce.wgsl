// Sum, mean and sum of squares over contiguous ranges: the last dimension of a tensor, or (in two
// stages) all of its elements; and (mean_axis1) the mean over axis 1, e.g. token pooling.
//
// Layout: x is flat f32, read as V chunks (lane_vector: vec4 when every range starts on a 16-byte
// boundary). Range r covers chunks [r * row_len, min(n, (r + 1) * row_len)), so the last range may be
// short: the first stage of a whole-tensor reduction cuts the tensor into equal ranges and a second
// dispatch sums the partial results as one range. out[r] = scale * sum(f(x)), f(v) = v or v * v
// (SQUARE define), scale = 1 (sum) or 1 / count (mean).
// Includes: lane_vector and a row reduction (subgroup or shared).
// Tiling: one workgroup of WG lanes per range; lane l sums chunks l, l + WG, ... in f32.
// mean_axis1: x [A, T, R] -> out [A, R] with out[a, r] = scale * sum_t x[a, t, r] (scale = 1 / T).
// One thread per V chunk of the output (params.n = R in chunks, row_len = T, rows = A * n); each
// walks down axis 1 with a lane-uniform loop, and neighbouring lanes read neighbouring chunks.
// Limits: ranges <= 65535^2 (2-D grid); n < 2^32 chunks.

struct Params {
  n: u32,
  row_len: u32,
  rows: u32,
  grid_x: u32,
  scale: f32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> x: array<V>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let row = wid.y * params.grid_x + wid.x;
  if (row >= params.rows) { return; }
  let start = row * params.row_len;
  let len = min(params.n - start, params.row_len);
  var acc = V(0.0);
  for (var i = 0u; i < len; i += WG) {
    let j = i + lid;
    if (j < len) {
      let v = x[start + j];
      if (SQUARE) {
        acc += v * v;
      } else {
        acc += v;
      }
    }
  }
  let total = row_sum(hsum(acc), lid);
  if (lid == 0u) {
    out[row] = total * params.scale;
  }
}

@compute @workgroup_size(WG)
fn mean_axis1(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let i = (wid.y * params.grid_x + wid.x) * WG + lid;
  if (i >= params.rows) { return; }
  let a = i / params.n;
  let r = i % params.n;
  var acc = V(0.0);
  for (var t = 0u; t < params.row_len; t++) {
    acc += x[(a * params.row_len + t) * params.n + r];
  }
  let mean = vec4<f32>(acc * params.scale);
  for (var c = 0u; c < W; c++) {
    out[i * W + c] = mean[c];
  }
}
