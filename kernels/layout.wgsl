// Layout changes: windows along one axis (slice, concat, and pad with zeros, their adjoint) and the
// transpose of the last two dimensions.
//
// Layout: any dense row-major f32 tensor viewed as [outer, axis, inner] around the chosen axis.
//   copy_window: dst[o, dst_off + j, i] = src[o, src_off + j, i] for j < len: one thread per copied
//                element (outer * len * inner). A slice copies a window out of src; a concat runs
//                one copy per input into its window of dst.
//   pad:         dst[o, j, i] = src[o, j - dst_off, i] inside [dst_off, dst_off + len), else 0:
//                one thread per dst element (the gradient of a slice, no separate zero fill).
//   transpose:   dst[b, c, r] = src[b, r, c] for src [batch, rows, cols]: one thread per element,
//                reads strided, writes contiguous.
// Work is 1-D over elements on a 2-D grid (params.row_pitch threads per grid row, see grid1d).
// Limits: element counts below 2^32. Scalar lanes: copies are memory-bound.

const WG = 256u;

struct Params {
  n: u32,
  row_pitch: u32,
  inner: u32,
  len: u32,
  src_axis: u32,
  src_off: u32,
  dst_axis: u32,
  dst_off: u32,
  rows: u32,
  cols: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> src: array<f32>;
@group(0) @binding(2) var<storage, read_write> dst: array<f32>;

@compute @workgroup_size(WG)
fn copy_window(@builtin(global_invocation_id) gid: vec3<u32>) {
  let t = gid.y * params.row_pitch + gid.x;
  if (t >= params.n) { return; }
  let i = t % params.inner;
  let r = t / params.inner;
  let j = r % params.len;
  let o = r / params.len;
  dst[(o * params.dst_axis + params.dst_off + j) * params.inner + i] = src[(o * params.src_axis + params.src_off + j) * params.inner + i];
}

@compute @workgroup_size(WG)
fn pad(@builtin(global_invocation_id) gid: vec3<u32>) {
  let t = gid.y * params.row_pitch + gid.x;
  if (t >= params.n) { return; }
  let i = t % params.inner;
  let r = t / params.inner;
  let j = r % params.dst_axis;
  let o = r / params.dst_axis;
  var value = 0.0;
  if (j >= params.dst_off && j < params.dst_off + params.len) {
    value = src[(o * params.len + j - params.dst_off) * params.inner + i];
  }
  dst[t] = value;
}

@compute @workgroup_size(WG)
fn transpose(@builtin(global_invocation_id) gid: vec3<u32>) {
  let t = gid.y * params.row_pitch + gid.x;
  if (t >= params.n) { return; }
  let r = t % params.rows;
  let q = t / params.rows;
  let c = q % params.cols;
  let b = q / params.cols;
  dst[t] = src[(b * params.rows + r) * params.cols + c];
}
