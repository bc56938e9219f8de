// 2-D convolution as an implicit GEMM (gemm.wgsl), NHWC activations, weights [Cout, kh, kw, Cin]:
//   out[n, oy, ox, co] = act(alpha * sum_{ky, kx, ci} x[n, oy*s - p + ky, ox*s - p + kx, ci] * w[co, ky, kx, ci]
//                            + bias[co]) (+ out)
// with positions outside the input (the padding) reading 0.
// GEMM view: a row is an output pixel (n, oy, ox), m = N * OH * OW; a column is an output channel;
// k runs over (ky, kx, ci), the weight row's own order, padded with zeros to a multiple of 4 by the
// op (params.taps_k is the unpadded kh * kw * Cin). The A operand is never materialised: load_a
// gathers it from x.
// Why NHWC: k then runs along contiguous input channels, so with Cin % 4 == 0 the 4 k-values of a
// load are one vec4 of one pixel (XT = vec4<f32>), and the weights are already gemm.wgsl's K-major
// B. In NCHW each of them would be a separate strided load, the expensive kind on lavapipe. An RGB
// input (Cin = 3) is gathered one value at a time (XT = f32).
// Includes: activation, gemm_subgroup or gemm_shared, gemm. Defines: XT and CIN_VEC4 (XT is
// vec4<f32> exactly when CIN_VEC4), BT.
// Grid: (ceil(Cout / 32), ceil(m / 32), 1). Limits: m <= 65535 * 32.

struct Params {
  m: u32,
  n: u32,
  k: u32,
  alpha: f32,
  act: u32,
  epilogue: u32,
  height: u32,
  width: u32,
  cin: u32,
  out_height: u32,
  out_width: u32,
  kernel_h: u32,
  kernel_w: u32,
  stride: u32,
  padding: u32,
  taps_k: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> x: array<XT>;
/** The weights, [Cout, k] (gemm.wgsl reads them as its B). */
@group(0) @binding(2) var<storage, read> b: array<BT>;
@group(0) @binding(3) var<storage, read> bias: array<f32>;
@group(0) @binding(4) var<storage, read_write> out: array<f32>;

/** An output pixel: its image's first input row, and the input position of its (0, 0) tap. */
struct ARow {
  image_row: u32,
  iy0: i32,
  ix0: i32,
}

fn a_row(a_base: u32, row: u32) -> ARow {
  let ox = row % params.out_width;
  let rest = row / params.out_width;
  let oy = rest % params.out_height;
  let image = rest / params.out_height;
  let s = params.stride;
  let p = i32(params.padding);
  return ARow(image * params.height, i32(oy * s) - p, i32(ox * s) - p);
}

/** Element offset of channel `ci` of tap `tap` (clamped inside the image) and whether it is inside. */
fn tap_offset(r: ARow, tap: u32, ci: u32) -> vec2<u32> {
  let ky = tap / params.kernel_w;
  let kx = tap - ky * params.kernel_w;
  let iy = r.iy0 + i32(ky);
  let ix = r.ix0 + i32(kx);
  let inside = iy >= 0 && iy < i32(params.height) && ix >= 0 && ix < i32(params.width);
  let y = u32(clamp(iy, 0, i32(params.height) - 1));
  let xx = u32(clamp(ix, 0, i32(params.width) - 1));
  return vec2<u32>(((r.image_row + y) * params.width + xx) * params.cin + ci, u32(inside));
}

fn load_a(r: ARow, k: u32) -> vec4<f32> {
  if (CIN_VEC4) {
    // Cin % 4 == 0: channels ci..ci+3 of one tap, one vec4 (k is a multiple of 4 and < taps_k).
    let tap = k / params.cin;
    let at = tap_offset(r, tap, k - tap * params.cin);
    return select(vec4<f32>(0.0), vec4<f32>(x[at.x / 4u]), at.y != 0u);
  }
  var v: vec4<f32>;
  for (var j = 0u; j < 4u; j++) {
    let kj = k + j;
    let tap = kj / params.cin;
    let at = tap_offset(r, tap, kj - tap * params.cin);
    // x[] is f32 here; vec4<f32>(...).x only keeps this line valid when XT is a vec4.
    v[j] = select(0.0, vec4<f32>(x[at.x]).x, at.y != 0u && kj < params.taps_k);
  }
  return v;
}

@compute @workgroup_size(8)
fn conv2d(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) lane: u32) {
  gemm_tile(wg.xy, lane, Bases(0u, 0u, 0u));
}
