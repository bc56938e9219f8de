// Backward of kernels/softmax.wgsl from its output y: dx = y * (dy - sum(dy * y)) per row.
//
// Layout: y, dy, dx [rows, n] row-major f32.
// Includes: lane_vector (V/W: vec4 lanes when n % 4 == 0) and a row reduction (subgroup or shared).
// Tiling: one workgroup of WG lanes per row (lane l takes chunks l, l + WG, ...), one row sum.
// Masked (-inf) inputs have y = 0 and so get a zero gradient.
// Limits: rows <= 65535^2 (2-D grid); n < 2^32.

struct Params {
  n: u32,
  rows: u32,
  grid_x: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> y: array<V>;
@group(0) @binding(2) var<storage, read> dy: array<V>;
@group(0) @binding(3) var<storage, read_write> dx: array<V>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let row = wid.y * params.grid_x + wid.x;
  if (row >= params.rows) { return; }
  let n = params.n;
  let base = row * n;
  var dot_sum = 0.0;
  for (var i = 0u; i < n; i += WG) {
    let j = i + lid;
    if (j < n) {
      dot_sum += hsum(dy[base + j] * y[base + j]);
    }
  }
  let total = V(row_sum(dot_sum, lid));
  for (var i = 0u; i < n; i += WG) {
    let j = i + lid;
    if (j < n) {
      dx[base + j] = y[base + j] * (dy[base + j] - total);
    }
  }
}
