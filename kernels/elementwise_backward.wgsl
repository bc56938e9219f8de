// Backward kernels for kernels/elementwise.wgsl, plus the gradient plumbing the autograd driver
// needs (accumulate, scaled copy, fill, broadcast expand and its adjoint, reduce-to-shape).
//
// Layout: dense row-major f32 tensors. Work is 1-D over the elements written; the grid is 2-D
// (params.row_pitch threads per grid row, see grid1d in src/runtime/ops/grid.ts).
//   activation_backward: dx[i] = dy[i] * act'(x[i])        ACT: 0 identity, 1 relu, 2 gelu, 3 silu
//                        (x is the pre-activation input; relu' at exactly 0 is taken as 0)
//   accumulate:          acc[i] += g[i]                     (gradient of a tensor used twice)
//   scale:               out[i] = s * a[i]                  (s = 1 is a copy, s = -1 the gradient of sub)
//   fill:                out[i] = s                         (seed gradients; no queue writes mid-recording)
//   reduce_to_shape:     out[j] = s * sum_{o -> j} g[o] (* other[o])   MUL_OTHER: multiply by a broadcast
//                        operand first (the gradient of mul). One thread per *input* element loops
//                        over the broadcast dimensions of the 4-D output (d0, d1, d2, d3): no atomics,
//                        deterministic order, cost = (output elements) reads spread over input-size
//                        threads (a bias gradient of [rows, n] -> [n] runs n threads of `rows` steps).
//   expand:              out[o] = s * g[j(o)]               broadcast g (strides 0 along broadcast dims);
//                        the gradient of a sum/mean reduction.
// Limits: element counts below 2^32, at most 4 dimensions.

const WG = 256u;

struct Params {
  n: u32,
  row_pitch: u32,
  s: f32,
  // the 4-D output (broadcast) shape
  d0: u32, d1: u32, d2: u32, d3: u32,
  // reduce_to_shape: the input's padded 4-D shape (1 where broadcast)
  i0: u32, i1: u32, i2: u32, i3: u32,
  // element strides inside the output of the broadcast operand (reduce_to_shape: `other`,
  // expand: `g`), 0 along the dimensions where it is broadcast
  o0: u32, o1: u32, o2: u32, o3: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> dy: array<f32>;
@group(0) @binding(2) var<storage, read> x: array<f32>;
@group(0) @binding(3) var<storage, read_write> dx: array<f32>;
@group(0) @binding(4) var<storage, read_write> acc: array<f32>;
@group(0) @binding(5) var<storage, read> g: array<f32>;
@group(0) @binding(6) var<storage, read> a: array<f32>;
@group(0) @binding(7) var<storage, read_write> out: array<f32>;
@group(0) @binding(8) var<storage, read> other: array<f32>;

fn index(gid: vec3<u32>) -> u32 {
  return gid.y * params.row_pitch + gid.x;
}

fn derivative(v: f32) -> f32 {
  switch (ACT) {
    case 1: { return select(0.0, 1.0, v > 0.0); }
    case 2: {
      // d/dv of 0.5 v (1 + tanh(u)), u = c (v + 0.044715 v^3): 0.5 (1 + t) + 0.5 v (1 - t^2) u'
      let c = 0.7978845608028654;
      let u = clamp(c * (v + 0.044715 * v * v * v), -15.0, 15.0);
      let e = exp(2.0 * u);
      let t = (e - 1.0) / (e + 1.0);
      return 0.5 * (1.0 + t) + 0.5 * v * (1.0 - t * t) * c * (1.0 + 3.0 * 0.044715 * v * v);
    }
    case 3: {
      let sig = 1.0 / (1.0 + exp(-v));
      return sig * (1.0 + v * (1.0 - sig));
    }
    default: { return 1.0; }
  }
}

@compute @workgroup_size(WG)
fn activation_backward(@builtin(global_invocation_id) gid: vec3<u32>) {
  let i = index(gid);
  if (i >= params.n) { return; }
  dx[i] = dy[i] * derivative(x[i]);
}

@compute @workgroup_size(WG)
fn accumulate(@builtin(global_invocation_id) gid: vec3<u32>) {
  let i = index(gid);
  if (i >= params.n) { return; }
  acc[i] = acc[i] + g[i];
}

@compute @workgroup_size(WG)
fn scale(@builtin(global_invocation_id) gid: vec3<u32>) {
  let i = index(gid);
  if (i >= params.n) { return; }
  out[i] = params.s * a[i];
}

@compute @workgroup_size(WG)
fn fill(@builtin(global_invocation_id) gid: vec3<u32>) {
  let i = index(gid);
  if (i >= params.n) { return; }
  out[i] = params.s;
}

@compute @workgroup_size(WG)
fn reduce_to_shape(@builtin(global_invocation_id) gid: vec3<u32>) {
  let j = index(gid);
  if (j >= params.n) { return; }
  // coordinates of j in the input's padded shape
  let c3 = j % params.i3;
  let r2 = j / params.i3;
  let c2 = r2 % params.i2;
  let r1 = r2 / params.i2;
  let c1 = r1 % params.i1;
  let c0 = r1 / params.i1;
  // a dimension is summed over where the input has size 1 and the output does not
  let d = vec4<u32>(params.d0, params.d1, params.d2, params.d3);
  let wide = (vec4<u32>(params.i0, params.i1, params.i2, params.i3) == vec4<u32>(1u)) & (d > vec4<u32>(1u));
  let lo = select(vec4<u32>(c0, c1, c2, c3), vec4<u32>(0u), wide);
  let hi = select(lo + vec4<u32>(1u), d, wide);
  let s2 = params.d3;
  let s1 = params.d2 * s2;
  let s0 = params.d1 * s1;
  var sum = 0.0;
  for (var k0 = lo.x; k0 < hi.x; k0++) {
    for (var k1 = lo.y; k1 < hi.y; k1++) {
      for (var k2 = lo.z; k2 < hi.z; k2++) {
        for (var k3 = lo.w; k3 < hi.w; k3++) {
          var v = g[k0 * s0 + k1 * s1 + k2 * s2 + k3];
          if (MUL_OTHER) {
            v *= other[k0 * params.o0 + k1 * params.o1 + k2 * params.o2 + k3 * params.o3];
          }
          sum += v;
        }
      }
    }
  }
  out[j] = params.s * sum;
}

@compute @workgroup_size(WG)
fn expand(@builtin(global_invocation_id) gid: vec3<u32>) {
  let i = index(gid);
  if (i >= params.n) { return; }
  let k3 = i % params.d3;
  let r2 = i / params.d3;
  let k2 = r2 % params.d2;
  let r1 = r2 / params.d2;
  let k1 = r1 % params.d1;
  let k0 = r1 / params.d1;
  out[i] = params.s * g[k0 * params.o0 + k1 * params.o1 + k2 * params.o2 + k3 * params.o3];
}
