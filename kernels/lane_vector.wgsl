// Lane vector width for row kernels (an include, not a kernel).
//
// The op defines V = vec4<f32>, W = 4 when every row starts on a 16-byte boundary (row length a
// multiple of 4), else V = f32, W = 1. On lavapipe each lane's load from a lane-varying address
// costs about the same for a vec4 as for a scalar, so vec4 rows move about 4x the data per load.
// vec4<f32>(v) is the identity for a vec4 and a splat for a scalar, so these helpers serve both.

const LANE_MASK = vec4<f32>(1.0, f32(W == 4), f32(W == 4), f32(W == 4));

fn hsum(v: V) -> f32 {
  return dot(vec4<f32>(v), LANE_MASK);
}

fn hmax(v: V) -> f32 {
  let u = vec4<f32>(v);
  return max(max(u.x, u.y), max(u.z, u.w));
}
