// KV-cache append: copies the K and V rows of new tokens into preallocated caches, in place, so a
// decode step stays inside one compute pass and never reallocates.
//
// Layout: k_new, v_new [B, Tnew, D]; k_cache, v_cache [B, Tmax, D]; f32 read as V chunks
// (lane_vector: vec4 when D and the source offsets are multiples of 4). The new rows can be column
// ranges of wider rows (a fused QKV projection): k_new row r starts at chunk r * k_row + k_off, and
// likewise for v. Row t of batch item b goes to cache row pos + t, where pos
// is params.pos for every item or, with ROW_POSITIONS, positions[b] (u32 [B], a ragged batch whose
// positions live on the GPU; without it the op binds k_new as `positions`, never read).
// Tiling: one workgroup per new row (b, t), its WG lanes stride over the row's chunks; 2-D grid.
// Limits: the op checks params.pos + Tnew <= Tmax on the CPU; GPU positions cannot be checked
// there, so rows that would land at or past Tmax are dropped here instead.

struct Params {
  d: u32,
  k_row: u32,
  k_off: u32,
  v_row: u32,
  v_off: u32,
  rows: u32,
  tnew: u32,
  tmax: u32,
  pos: u32,
  grid_x: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> k_new: array<V>;
@group(0) @binding(2) var<storage, read> v_new: array<V>;
@group(0) @binding(3) var<storage, read_write> k_cache: array<V>;
@group(0) @binding(4) var<storage, read_write> v_cache: array<V>;
@group(0) @binding(5) var<storage, read> positions: array<u32>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let row = wid.y * params.grid_x + wid.x;
  if (row >= params.rows) { return; }
  let b = row / params.tnew;
  let t = row % params.tnew;
  var cache_row = params.pos + t;
  if (ROW_POSITIONS) {
    cache_row = positions[b] + t;
  }
  if (cache_row >= params.tmax) { return; }
  let k_src = row * params.k_row + params.k_off;
  let v_src = row * params.v_row + params.v_off;
  let dst = (b * params.tmax + cache_row) * params.d;
  for (var i = 0u; i < params.d; i += WG) {
    let c = i + lid;
    if (c < params.d) {
      k_cache[dst + c] = k_new[k_src + c];
      v_cache[dst + c] = v_new[v_src + c];
    }
  }
}
