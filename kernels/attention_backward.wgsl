// Backward of kernels/attention.wgsl (flash-attention style: no Tq x Tk matrix is stored; the
// softmax is recomputed from q and k).
//
// Per head, with s_ij = scale * q_i . k_j over the keys query i sees, p_ij = exp(s_ij - lse_i):
//   delta_i = dO_i . O_i
//   dQ_i = scale * sum_j p_ij (dO_i . v_j - delta_i) k_j
//   dK_j = scale * sum_i p_ij (dO_i . v_j - delta_i) q_i
//   dV_j = sum_i p_ij dO_i
// Layout as the forward (f32 read as vec4): Q, O, dO, dQ [B, Tq, H*Dh]; K, V, dK, dV [B, Tcap, H*Dh]
// (heads interleaved, strides in vec4 units as params); of K/V the first `tk` rows are used, dK/dV
// rows from tk on are written as zeros. lse and delta [B, H, Tq] pass from `dq` to `dkv`.
// Masking as the forward: causal query i sits at absolute position past + i and sees keys
// 0 ..= past + i (and < tk); otherwise every query sees keys 0 .. tk (cross-attention).
// Two kernels, no atomics, deterministic:
//  - `dq`: lanes are WG consecutive queries of one head of one batch item (grid (ceil(Tq/WG), H, B)).
//    Pass 1 over the keys recomputes lse (online max/sum); pass 2 accumulates dQ. K and V rows are
//    read at lane-uniform addresses (one load per subgroup on lavapipe).
//  - `dkv`: lanes are WG consecutive keys (grid (ceil(Tcap/WG), H, B)); one pass over the queries
//    that can see the block's keys, reading q, dO, lse, delta at lane-uniform addresses.
// Cost: about 2.5x the forward's multiply-adds. Limits: Dh = 4 * DH4 <= 256 (registers hold
// four Dh vectors per lane in `dkv`); grid dims <= 65535.

const LOWEST = -3.4028234663852886e38;

struct Params {
  tq: u32,
  tk: u32,
  tcap: u32,
  past: u32,
  causal: u32,
  heads: u32,
  q_batch: u32,
  q_row: u32,
  kv_batch: u32,
  kv_row: u32,
  scale: f32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> q: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> k: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read> v: array<vec4<f32>>;
@group(0) @binding(4) var<storage, read> o: array<vec4<f32>>;
@group(0) @binding(5) var<storage, read> d_o: array<vec4<f32>>;
@group(0) @binding(6) var<storage, read_write> dq: array<vec4<f32>>;
@group(0) @binding(7) var<storage, read_write> dk: array<vec4<f32>>;
@group(0) @binding(8) var<storage, read_write> dv: array<vec4<f32>>;
@group(0) @binding(9) var<storage, read_write> lse: array<f32>;
@group(0) @binding(10) var<storage, read_write> delta: array<f32>;

/** Keys visible to query `qi`: causal ones end at its absolute position. */
fn key_end(qi: u32) -> u32 {
  if (params.causal != 0u) {
    return min(params.tk, params.past + qi + 1u);
  }
  return params.tk;
}

@compute @workgroup_size(WG)
fn main_dq(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let b = wid.z;
  let h = wid.y;
  let block_last = min(wid.x * WG + WG, params.tq) - 1u;
  let qi = min(wid.x * WG + lid, block_last); // lanes past the end repeat the last query
  let q_base = b * params.q_batch + qi * params.q_row + h * DH4;
  var qv: array<vec4<f32>, DH4>;
  var dov: array<vec4<f32>, DH4>;
  var row_delta = 0.0;
  for (var d = 0u; d < DH4; d++) {
    qv[d] = q[q_base + d] * params.scale;
    dov[d] = d_o[q_base + d];
    row_delta += dot(dov[d], o[q_base + d]);
  }
  let my_end = key_end(qi);
  let block_end = key_end(block_last);
  let kv_head = b * params.kv_batch + h * DH4;

  var m = LOWEST;
  var l = 0.0;
  for (var j = 0u; j < block_end; j++) {
    let kv_base = kv_head + j * params.kv_row;
    var s = 0.0;
    for (var d = 0u; d < DH4; d++) {
      s += dot(qv[d], k[kv_base + d]);
    }
    let visible = j < my_end;
    let nm = select(m, max(m, s), visible);
    l = l * exp(m - nm) + select(0.0, exp(s - nm), visible);
    m = nm;
  }
  let row_lse = m + log(l);

  var acc: array<vec4<f32>, DH4>;
  for (var j = 0u; j < block_end; j++) {
    let kv_base = kv_head + j * params.kv_row;
    var s = 0.0;
    var dp = 0.0;
    for (var d = 0u; d < DH4; d++) {
      s += dot(qv[d], k[kv_base + d]);
      dp += dot(dov[d], v[kv_base + d]);
    }
    let ds = select(0.0, exp(s - row_lse) * (dp - row_delta), j < my_end);
    for (var d = 0u; d < DH4; d++) {
      acc[d] += ds * k[kv_base + d];
    }
  }
  if (wid.x * WG + lid < params.tq) {
    for (var d = 0u; d < DH4; d++) {
      dq[q_base + d] = acc[d] * params.scale;
    }
    let at = (b * params.heads + h) * params.tq + qi;
    lse[at] = row_lse;
    delta[at] = row_delta;
  }
}

@compute @workgroup_size(WG)
fn main_dkv(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let b = wid.z;
  let h = wid.y;
  let j = wid.x * WG + lid;
  let jc = min(j, params.tcap - 1u); // lanes past the end load a valid row and write nothing
  let kv_base = b * params.kv_batch + jc * params.kv_row + h * DH4;
  var kv: array<vec4<f32>, DH4>;
  var vv: array<vec4<f32>, DH4>;
  for (var d = 0u; d < DH4; d++) {
    kv[d] = k[kv_base + d] * params.scale;
    vv[d] = v[kv_base + d];
  }
  // causal: query i sees key j when j <= past + i, so the block's first key bounds the first query
  var first = 0u;
  if (params.causal != 0u && wid.x * WG > params.past) {
    first = wid.x * WG - params.past;
  }
  var dk_acc: array<vec4<f32>, DH4>;
  var dv_acc: array<vec4<f32>, DH4>;
  let stat_head = (b * params.heads + h) * params.tq;
  for (var i = first; i < params.tq; i++) {
    let q_base = b * params.q_batch + i * params.q_row + h * DH4;
    var s = 0.0;
    var dp = 0.0;
    for (var d = 0u; d < DH4; d++) {
      s += dot(q[q_base + d], kv[d]);
      dp += dot(d_o[q_base + d], vv[d]);
    }
    let visible = j < key_end(i);
    let p = select(0.0, exp(s - lse[stat_head + i]), visible);
    let ds = p * (dp - delta[stat_head + i]);
    for (var d = 0u; d < DH4; d++) {
      dv_acc[d] += p * d_o[q_base + d];
      dk_acc[d] += ds * q[q_base + d];
    }
  }
  if (j < params.tcap) {
    for (var d = 0u; d < DH4; d++) {
      dk[kv_base + d] = dk_acc[d] * params.scale;
      dv[kv_base + d] = dv_acc[d];
    }
  }
}
