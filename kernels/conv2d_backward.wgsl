// Backward of kernels/conv2d.wgsl over NHWC activations with weights [Cout, kh, kw, Cin]:
//   y[n, oy, ox, co] = bias[co] + sum_{ky, kx, ci} x[n, oy*s - p + ky, ox*s - p + kx, ci] * w[co, ky, kx, ci]
// (positions outside the input read 0). Given dy (the gradient of the pre-activation output):
//   dinput:  dx[n, iy, ix, ci] = sum over co, ky, kx with (iy + p - ky) and (ix + p - kx) multiples
//            of s and inside the output: dy[n, oy, ox, co] * w[co, ky, kx, ci].
//            One thread per input element; the (ky, kx) loop steps by s, so each thread visits only
//            the taps that reach it: ~Cout * kh * kw / s^2 multiply-adds per element.
//   dweight: dw[co, ky, kx, ci] = sum over n, oy, ox of dy[n, oy, ox, co] * x[n, iy, ix, ci].
//            One thread per weight element looping over all output positions in order
//            (deterministic, no atomics): N * OH * OW multiply-adds per weight. Adjacent threads are
//            adjacent ci: contiguous x reads and a dy value shared by the Cin threads of one co.
// The bias gradient is the sum of dy over n, oy, ox (reduce_to_shape in elementwise_backward).
// Layout: x [N, H, W, Cin], dy [N, OH, OW, Cout], w [Cout, kh, kw, Cin], row-major f32. x, w, dx, dw
// are read as V chunks of channels (lane_vector: vec4 when Cin % 4 == 0; params.cin counts chunks):
// a thread handles W input channels, and on lavapipe a vec4 load costs about what a scalar one does.
// Work is 1-D over the chunks written, on a 2-D grid (params.row_pitch threads per grid row).
// Limits: element counts below 2^32.

struct Params {
  n: u32,
  row_pitch: u32,
  batch: u32,
  height: u32,
  width: u32,
  cin: u32,
  out_height: u32,
  out_width: u32,
  cout: u32,
  kernel_h: u32,
  kernel_w: u32,
  stride: u32,
  padding: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> x: array<V>;
@group(0) @binding(2) var<storage, read> w: array<V>;
@group(0) @binding(3) var<storage, read> dy: array<f32>;
@group(0) @binding(4) var<storage, read_write> dx: array<V>;
@group(0) @binding(5) var<storage, read_write> dw: array<V>;

@compute @workgroup_size(WG)
fn dinput(@builtin(global_invocation_id) gid: vec3<u32>) {
  let t = gid.y * params.row_pitch + gid.x;
  if (t >= params.n) { return; }
  let ci = t % params.cin;
  let r = t / params.cin;
  let ix = r % params.width;
  let r2 = r / params.width;
  let iy = r2 % params.height;
  let b = r2 / params.height;
  let s = params.stride;
  let kh = params.kernel_h;
  let kw = params.kernel_w;
  // taps with (iy + p - ky) % s == 0: the first is ky0 = (iy + p) % s, then every s-th
  let py = iy + params.padding;
  let px = ix + params.padding;
  var acc = V(0.0);
  for (var ky = py % s; ky < kh; ky += s) {
    if (ky > py) { break; }
    let oy = (py - ky) / s;
    if (oy >= params.out_height) { continue; }
    for (var kx = px % s; kx < kw; kx += s) {
      if (kx > px) { break; }
      let ox = (px - kx) / s;
      if (ox >= params.out_width) { continue; }
      let dy_base = ((b * params.out_height + oy) * params.out_width + ox) * params.cout;
      let w_tap = (ky * kw + kx) * params.cin + ci;
      for (var co = 0u; co < params.cout; co++) {
        acc += dy[dy_base + co] * w[co * kh * kw * params.cin + w_tap];
      }
    }
  }
  dx[t] = acc;
}

@compute @workgroup_size(WG)
fn dweight(@builtin(global_invocation_id) gid: vec3<u32>) {
  let t = gid.y * params.row_pitch + gid.x;
  if (t >= params.n) { return; }
  let ci = t % params.cin;
  let r = t / params.cin;
  let kx = r % params.kernel_w;
  let r2 = r / params.kernel_w;
  let ky = r2 % params.kernel_h;
  let co = r2 / params.kernel_h;
  var acc = V(0.0);
  for (var b = 0u; b < params.batch; b++) {
    for (var oy = 0u; oy < params.out_height; oy++) {
      // input row oy * s - p + ky, skipped when it falls in the zero padding
      let iy = i32(oy * params.stride + ky) - i32(params.padding);
      if (iy < 0 || iy >= i32(params.height)) { continue; }
      for (var ox = 0u; ox < params.out_width; ox++) {
        let ix = i32(ox * params.stride + kx) - i32(params.padding);
        if (ix < 0 || ix >= i32(params.width)) { continue; }
        let g = dy[((b * params.out_height + oy) * params.out_width + ox) * params.cout + co];
        acc += g * x[((b * params.height + u32(iy)) * params.width + u32(ix)) * params.cin + ci];
      }
    }
  }
  dw[t] = acc;
}
