// Fused multi-head classifier: every attribute head and the price outputs in one dispatch.
//
// Layout: x [B, D] pooled features; w [Ctot, D] (nn.Linear layout: one row per output) and bias
// [Ctot] hold all heads' outputs concatenated; segments u32 [nHeads * 3] = (offset, size, kind)
// per head, kind 0 = softmax head (classes), 1 = raw head (regression, e.g. price point estimate
// and quantiles). Outputs: out [B, Ctot] = per-head softmax probabilities, or the raw values of raw
// heads; argmax u32 [B, nHeads] = most probable class within the head (lowest index on ties);
// confidence [B, nHeads] = its probability. Raw heads get argmax 0 and confidence 0.
// f32; x and w read as V chunks (lane_vector: vec4 when D % 4 == 0).
//
// Tiling: one workgroup per (head, block of RB batch rows), grid (nHeads, ceil(B / RB)). Lanes are
// the head's outputs: lane l computes outputs l, l + WG, ... Each step over D loads one chunk of a
// W row per lane (lane-varying) and one chunk of each of the RB x rows (lane-uniform, shared by all
// lanes), so W is read once per RB rows and x once per WG outputs. Each lane keeps an online
// softmax (max, sum, argmax) per row; lanes are merged with row_max / row_sum / row_min_index
// (subgroup or shared include); then each lane rewrites its own logits as probabilities.
// Limits: RB in 1..4 (registers); classes per head < 2^24; B, nHeads <= 65535.

const LOWEST = -3.4028234663852886e38;
const KIND_SOFTMAX = 0u;

struct Params {
  batch: u32,
  d: u32,
  ctot: u32,
  heads: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> x: array<V>;
@group(0) @binding(2) var<storage, read> w: array<V>;
@group(0) @binding(3) var<storage, read> bias: array<f32>;
@group(0) @binding(4) var<storage, read> segments: array<u32>;
@group(0) @binding(5) var<storage, read_write> out: array<f32>;
@group(0) @binding(6) var<storage, read_write> argmax: array<u32>;
@group(0) @binding(7) var<storage, read_write> confidence: array<f32>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let head = wid.x;
  let offset = segments[head * 3u];
  let size = segments[head * 3u + 1u];
  let kind = segments[head * 3u + 2u];
  let first_row = wid.y * RB;
  var rows: array<u32, RB>; // rows past the batch repeat the last one and are not written
  for (var r = 0u; r < RB; r++) {
    rows[r] = min(first_row + r, params.batch - 1u);
  }

  var m = array<f32, RB>();
  var s = array<f32, RB>();
  var best = array<u32, RB>();
  for (var r = 0u; r < RB; r++) {
    m[r] = LOWEST;
  }
  for (var c0 = 0u; c0 < size; c0 += WG) {
    let c = c0 + lid;
    let w_row = (offset + min(c, size - 1u)) * params.d;
    // Written out: on Dawn + lavapipe a bare `var acc: T;` in a loop kept the previous iteration's
    // value instead of being zeroed again, so every accumulator here is initialised explicitly.
    var acc = array<V, RB>();
    for (var i = 0u; i < params.d; i++) {
      let wv = w[w_row + i];
      for (var r = 0u; r < RB; r++) {
        acc[r] += wv * x[rows[r] * params.d + i];
      }
    }
    if (c < size) {
      for (var r = 0u; r < RB; r++) {
        let logit = hsum(acc[r]) + bias[offset + c];
        if (first_row + r < params.batch) {
          out[rows[r] * params.ctot + offset + c] = logit;
        }
        if (logit > m[r]) {
          best[r] = c;
        }
        let nm = max(m[r], logit);
        s[r] = s[r] * exp(m[r] - nm) + exp(logit - nm);
        m[r] = nm;
      }
    }
  }

  for (var r = 0u; r < RB; r++) {
    let row_m = row_max(m[r], lid);
    let row_s = row_sum(s[r] * exp(m[r] - row_m), lid);
    let row_best = row_min_index(select(size, best[r], m[r] == row_m), lid);
    if (first_row + r >= params.batch) { continue; }
    let row = rows[r];
    let is_softmax = kind == KIND_SOFTMAX;
    if (lid == 0u) {
      argmax[row * params.heads + head] = select(0u, row_best, is_softmax);
      confidence[row * params.heads + head] = select(0.0, 1.0 / row_s, is_softmax);
    }
    if (is_softmax) {
      let inv = 1.0 / row_s;
      for (var c = lid; c < size; c += WG) {
        let at = row * params.ctot + offset + c;
        out[at] = exp(out[at] - row_m) * inv;
      }
    }
  }
}
