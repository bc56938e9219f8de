// Fused scaled-dot-product attention with an online softmax (flash-attention style): no Tq x Tk
// score matrix is ever stored.
//
// Layout (f32, read as vec4): Q [B, Tq, H*Dh], K and V [B, Tcap, H*Dh], O [B, Tq, H*Dh], heads
// interleaved in the last dimension (the output of a linear layer). Strides and the offsets q_off,
// k_off, v_off are params in vec4 units, so K/V can be a KV cache of capacity Tcap of which only
// the first `tk` rows are valid, and Q, K, V can be column ranges of one wider tensor (a fused QKV
// projection [B, T, 3 * H*Dh]) read in place, without slice copies.
// Head h uses columns [h*Dh, (h+1)*Dh). DH4 = Dh / 4 is a define (Dh must be a multiple of 4).
// Masking: with `causal`, query i of the block sits at absolute position past + i and sees keys
// 0 ..= past + i (and never beyond tk); without it every query sees keys 0 .. tk (cross-attention).
// Ragged batches (ROW_LENGTHS): batch item b has its own valid length min(kv_lengths[b], tk), and
// causal queries are its last Tq positions (past = that length - Tq). Without ROW_LENGTHS the op
// binds q as `kv_lengths`, which is then never read. A query that sees no key outputs zeros.
// Scores are (q . k) * scale; the op passes scale = 1/sqrt(Dh) unless told otherwise.
//
// Two entry points, both one head of one batch item per workgroup:
//  - `flash` (prefill, Tq >= a few): the WG lanes are WG consecutive queries. Each step of the key
//    loop reads one K row and one V row at lane-uniform addresses, shared by all lanes (on
//    lavapipe a uniform load is one load for the whole subgroup), and each lane folds the key into
//    its own running (max, sum, accumulator). Grid (ceil(Tq / WG), H, B).
//  - `decode` (Tq small, e.g. 1 in a decode step): one query per workgroup, the keys split across
//    the lanes (lane l takes keys l, l + WG, ...), each lane with its own online softmax state;
//    the lanes' states are merged at the end with row_max / row_sum4 (subgroup or shared include).
//    Grid (Tq, H, B).
// Limits: Dh <= 64: q and the accumulator live in per-lane registers only while the loops over Dh
// are unrolled; on lavapipe Dh = 96 already runs ~100x slower (spilled, indexed private arrays).
// tk >= 1; grid dims <= 65535.

const LOWEST = -3.4028234663852886e38; // start of a running max; exp(-inf - LOWEST) is 0, never NaN

struct Params {
  tq: u32,
  tk: u32,
  past: u32,
  causal: u32,
  q_batch: u32,
  q_row: u32,
  kv_batch: u32,
  kv_row: u32,
  o_batch: u32,
  o_row: u32,
  q_off: u32,
  k_off: u32,
  v_off: u32,
  scale: f32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> q: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> k: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read> v: array<vec4<f32>>;
@group(0) @binding(4) var<storage, read_write> o: array<vec4<f32>>;
@group(0) @binding(5) var<storage, read> kv_lengths: array<u32>;

/** Keys visible to query `qi` of batch item b: causal ones end at the query's absolute position. */
fn key_end(b: u32, qi: u32) -> u32 {
  var tk = params.tk;
  var past = i32(params.past);
  if (ROW_LENGTHS) {
    tk = min(kv_lengths[b], params.tk);
    past = i32(tk) - i32(params.tq);
  }
  if (params.causal != 0u) {
    return u32(clamp(past + i32(qi) + 1, 0, i32(tk)));
  }
  return tk;
}

/** One online-softmax step: the new running max and sum, and the factors for the accumulator. */
struct Fold {
  m: f32,
  l: f32,
  /** Rescales what was accumulated under the old max. */
  corr: f32,
  /** Weight of this key's value row. */
  p: f32,
}

/** Folds score s into (max m, sum l); an invisible key (masked) changes nothing: corr 1, p 0. */
fn fold(m: f32, l: f32, s: f32, visible: bool) -> Fold {
  let nm = select(m, max(m, s), visible);
  let corr = exp(m - nm);
  let p = select(0.0, exp(s - nm), visible);
  return Fold(nm, l * corr + p, corr, p);
}

@compute @workgroup_size(WG)
fn flash(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let b = wid.z;
  let h = wid.y;
  let block_last = min(wid.x * WG + WG, params.tq) - 1u;
  let qi = min(wid.x * WG + lid, block_last); // lanes past the end repeat the last query
  let q_base = params.q_off + b * params.q_batch + qi * params.q_row + h * DH4;
  var qv: array<vec4<f32>, DH4>;
  for (var d = 0u; d < DH4; d++) {
    qv[d] = q[q_base + d] * params.scale;
  }
  let my_end = key_end(b, qi);
  let block_end = key_end(b, block_last); // uniform loop bound: the last query sees the most keys
  var m = LOWEST;
  var l = 0.0;
  var acc = array<vec4<f32>, DH4>();
  let kv_head = b * params.kv_batch + h * DH4;
  for (var j = 0u; j < block_end; j++) {
    let kv_base = kv_head + j * params.kv_row;
    var s = 0.0;
    for (var d = 0u; d < DH4; d++) {
      s += dot(qv[d], k[params.k_off + kv_base + d]);
    }
    let f = fold(m, l, s, j < my_end);
    m = f.m;
    l = f.l;
    for (var d = 0u; d < DH4; d++) {
      acc[d] = acc[d] * f.corr + f.p * v[params.v_off + kv_base + d];
    }
  }
  if (wid.x * WG + lid < params.tq) {
    let o_base = b * params.o_batch + qi * params.o_row + h * DH4;
    let inv = select(0.0, 1.0 / l, l > 0.0);
    for (var d = 0u; d < DH4; d++) {
      o[o_base + d] = acc[d] * inv;
    }
  }
}

@compute @workgroup_size(WG)
fn decode(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let b = wid.z;
  let h = wid.y;
  let qi = wid.x;
  let q_base = params.q_off + b * params.q_batch + qi * params.q_row + h * DH4;
  var qv: array<vec4<f32>, DH4>;
  for (var d = 0u; d < DH4; d++) {
    qv[d] = q[q_base + d] * params.scale;
  }
  let end = key_end(b, qi);
  var m = LOWEST;
  var l = 0.0;
  var acc = array<vec4<f32>, DH4>();
  let kv_head = b * params.kv_batch + h * DH4;
  for (var j0 = 0u; j0 < end; j0 += WG) {
    let j = j0 + lid;
    let visible = j < end;
    let kv_base = kv_head + min(j, end - 1u) * params.kv_row; // clamped: every lane loads in bounds
    var s = 0.0;
    for (var d = 0u; d < DH4; d++) {
      s += dot(qv[d], k[params.k_off + kv_base + d]);
    }
    let f = fold(m, l, s, visible);
    m = f.m;
    l = f.l;
    for (var d = 0u; d < DH4; d++) {
      acc[d] = acc[d] * f.corr + f.p * v[params.v_off + kv_base + d];
    }
  }
  // Merge the lanes' states: rescale each to the common max, then sum.
  let row_m = row_max(m, lid);
  let f = exp(m - row_m);
  let row_l = row_sum(l * f, lid);
  let inv = select(0.0, 1.0 / row_l, row_l > 0.0);
  let o_base = b * params.o_batch + qi * params.o_row + h * DH4;
  for (var d = 0u; d < DH4; d++) {
    let total = row_sum4(acc[d] * f, lid);
    if (lid == 0u) {
      o[o_base + d] = total * inv;
    }
  }
}
