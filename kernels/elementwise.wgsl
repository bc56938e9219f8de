// Elementwise kernels: activations and broadcast binary ops.
//
// Layout: dense row-major f32 tensors. Work is 1-D over the output's elements; the dispatch grid is
// 2-D (x * 65535 groups wide, see grid1d in ops) so tensors past 65535 * 256 elements still fit.
//   unary:  out[i] = act(x[i])                  ACT: 0 identity, 1 relu, 2 gelu (tanh form), 3 silu
//   binary: out[i] = a[ia] OP b[ib]             OP: 0 add, 1 mul, 2 sub
//     with up-to-4-D broadcasting: the output shape is (d0, d1, d2, d3) and each input has its own
//     element strides, 0 along a broadcast dimension. Fewer dims are padded with leading 1s.
// activate() comes from kernels/activation.wgsl (an include).
// unary4 / binary4: the same, four elements per thread through vec4 views of the same bindings
//   (a4, b4, out4), used when the element count (unary) or the last output dimension (binary) is
//   a multiple of 4 and neither input is broadcast along the last dimension; n, d3 and the strides
//   are then in vec4 units. A quarter of the index arithmetic, and vector loads.
// Limits: element counts below 2^32. One thread per element; lavapipe runs these memory-bound.

const WG = 256u;

struct Params {
  n: u32,
  d1: u32,
  d2: u32,
  d3: u32,
  a0: u32, a1: u32, a2: u32, a3: u32,
  b0: u32, b1: u32, b2: u32, b3: u32,
  row_pitch: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> a: array<f32>;
@group(0) @binding(2) var<storage, read> b: array<f32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;
@group(0) @binding(1) var<storage, read> a4: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> b4: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read_write> out4: array<vec4<f32>>;

fn activate4(v: vec4<f32>) -> vec4<f32> {
  return vec4<f32>(activate(v.x, ACT), activate(v.y, ACT), activate(v.z, ACT), activate(v.w, ACT));
}

/** (a, b) input indices of output element i, in the units of the params (elements or vec4s). */
fn broadcast_indices(i: u32) -> vec2<u32> {
  let i3 = i % params.d3;
  let r2 = i / params.d3;
  let i2 = r2 % params.d2;
  let r1 = r2 / params.d2;
  let i1 = r1 % params.d1;
  let i0 = r1 / params.d1;
  return vec2<u32>(i0 * params.a0 + i1 * params.a1 + i2 * params.a2 + i3 * params.a3,
                   i0 * params.b0 + i1 * params.b1 + i2 * params.b2 + i3 * params.b3);
}

@compute @workgroup_size(WG)
fn unary(@builtin(global_invocation_id) gid: vec3<u32>) {
  let i = gid.y * params.row_pitch + gid.x;
  if (i >= params.n) { return; }
  out[i] = activate(a[i], ACT);
}

@compute @workgroup_size(WG)
fn binary(@builtin(global_invocation_id) gid: vec3<u32>) {
  let i = gid.y * params.row_pitch + gid.x;
  if (i >= params.n) { return; }
  let ix = broadcast_indices(i);
  let x = a[ix.x];
  let y = b[ix.y];
  var r: f32;
  switch (OP) {
    case 1: { r = x * y; }
    case 2: { r = x - y; }
    default: { r = x + y; }
  }
  out[i] = activate(r, ACT);
}

@compute @workgroup_size(WG)
fn unary4(@builtin(global_invocation_id) gid: vec3<u32>) {
  let i = gid.y * params.row_pitch + gid.x;
  if (i >= params.n) { return; }
  out4[i] = activate4(a4[i]);
}

@compute @workgroup_size(WG)
fn binary4(@builtin(global_invocation_id) gid: vec3<u32>) {
  let i = gid.y * params.row_pitch + gid.x;
  if (i >= params.n) { return; }
  let ix = broadcast_indices(i);
  let x = a4[ix.x];
  let y = b4[ix.y];
  var r: vec4<f32>;
  switch (OP) {
    case 1: { r = x * y; }
    case 2: { r = x - y; }
    default: { r = x + y; }
  }
  out4[i] = activate4(r);
}
