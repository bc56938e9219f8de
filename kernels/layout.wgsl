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
//   transpose4:  the same when rows and cols are multiples of 4: one thread per 4 x 4 block, four
//                vec4 loads and four vec4 stores (on lavapipe a lane's vec4 access costs about what
//                a scalar one does, so this moves ~4x the data per instruction; the matmul op's
//                scratch transposes were ~15% of a training step's GPU time).
//   split_heads: attention's per-head operands for the GEMM path. src rows [batch, src_seq, width]
//                hold H heads of head_dim columns from column col_off (a plain [B, T, H*dh] tensor,
//                or q, k or v inside a fused projection); dst is [batch, H, seq_pad, head_dim]
//                (split_heads) or its per-head transpose [batch, H, head_dim, seq_pad]
//                (split_heads_t). Rows seq..seq_pad-1 are zeros: the GEMMs' K (a multiple of 4)
//                runs over them, and zero rows add nothing.
//   merge_heads: the inverse: src [batch, H, seq_pad, head_dim] into columns col_off.. of dst's rows
//                [batch, seq, width] (width = H*head_dim for a tensor of its own; wider to fill the
//                q, k or v columns of a fused projection's gradient).
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
  heads: u32,
  head_dim: u32,
  seq: u32,
  seq_pad: u32,
  src_seq: u32,
  width: u32,
  col_off: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> src: array<f32>;
@group(0) @binding(2) var<storage, read_write> dst: array<f32>;
// transpose4's vec4 views of the same buffers (an entry binds only the variables it uses).
@group(0) @binding(3) var<storage, read> src4: array<vec4<f32>>;
@group(0) @binding(4) var<storage, read_write> dst4: array<vec4<f32>>;

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

@compute @workgroup_size(WG)
fn transpose4(@builtin(global_invocation_id) gid: vec3<u32>) {
  let t = gid.y * params.row_pitch + gid.x;
  if (t >= params.n) { return; }
  let rows4 = params.rows / 4u;
  let cols4 = params.cols / 4u;
  let r4 = t % rows4;
  let q = t / rows4;
  let c4 = q % cols4;
  let b = q / cols4;
  let first = (b * params.rows + 4u * r4) * cols4 + c4;
  let r0 = src4[first];
  let r1 = src4[first + cols4];
  let r2 = src4[first + 2u * cols4];
  let r3 = src4[first + 3u * cols4];
  let at = (b * params.cols + 4u * c4) * rows4 + r4;
  dst4[at] = vec4<f32>(r0.x, r1.x, r2.x, r3.x);
  dst4[at + rows4] = vec4<f32>(r0.y, r1.y, r2.y, r3.y);
  dst4[at + 2u * rows4] = vec4<f32>(r0.z, r1.z, r2.z, r3.z);
  dst4[at + 3u * rows4] = vec4<f32>(r0.w, r1.w, r2.w, r3.w);
}

/** src element of head h, sequence row j < seq, column d of batch item b (split_heads*). */
fn head_source(b: u32, h: u32, j: u32, d: u32) -> f32 {
  if (j >= params.seq) { return 0.0; }
  return src[(b * params.src_seq + j) * params.width + params.col_off + h * params.head_dim + d];
}

@compute @workgroup_size(WG)
fn split_heads(@builtin(global_invocation_id) gid: vec3<u32>) {
  let t = gid.y * params.row_pitch + gid.x;
  if (t >= params.n) { return; }
  let d = t % params.head_dim;
  let r = t / params.head_dim;
  let j = r % params.seq_pad;
  let bh = r / params.seq_pad;
  dst[t] = head_source(bh / params.heads, bh % params.heads, j, d);
}

@compute @workgroup_size(WG)
fn split_heads_t(@builtin(global_invocation_id) gid: vec3<u32>) {
  let t = gid.y * params.row_pitch + gid.x;
  if (t >= params.n) { return; }
  let j = t % params.seq_pad;
  let r = t / params.seq_pad;
  let d = r % params.head_dim;
  let bh = r / params.head_dim;
  dst[t] = head_source(bh / params.heads, bh % params.heads, j, d);
}

@compute @workgroup_size(WG)
fn merge_heads(@builtin(global_invocation_id) gid: vec3<u32>) {
  let t = gid.y * params.row_pitch + gid.x;
  if (t >= params.n) { return; }
  let dim = params.heads * params.head_dim;
  let c = t % dim;
  let r = t / dim;
  let j = r % params.seq;
  let b = r / params.seq;
  let h = c / params.head_dim;
  dst[r * params.width + params.col_off + c] = src[((b * params.heads + h) * params.seq_pad + j) * params.head_dim + c % params.head_dim];
}
