// Embedding gather: out[r] = table[ids[r]] (+ pos_table[pos_offset + r % seq_len] with `gather_pos`,
// + pos_table[pos_ids[r]] with `gather_pos_ids`: rows at their own positions, a ragged decode step).
//
// Layout: ids u32 [rows] (B*T flattened, row r is token r % seq_len of its sequence); table
// [vocab, D]; pos_table [max_pos, D]; out [rows, D]; f32 read as V chunks (lane_vector: vec4 when
// D % 4 == 0). Tiling: one workgroup per row (the id is a lane-uniform load), WG lanes stride over
// the chunks of D; 2-D grid.
// Out-of-range ids: ids that reach this kernel from the GPU (sampled tokens) are clamped to
// vocab - 1, so a bad id can never read outside the table. Ids from the host are checked on the
// CPU before upload (tokenIdTensor in ops/embedding.ts), which names the offending id instead.
// The op checks pos_offset + seq_len <= max_pos; GPU-side pos_ids are clamped to max_pos - 1.

struct Params {
  d: u32,
  rows: u32,
  vocab: u32,
  seq_len: u32,
  pos_offset: u32,
  max_pos: u32,
  grid_x: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> ids: array<u32>;
@group(0) @binding(2) var<storage, read> table: array<V>;
@group(0) @binding(3) var<storage, read> pos_table: array<V>;
@group(0) @binding(4) var<storage, read_write> out: array<V>;
@group(0) @binding(5) var<storage, read> pos_ids: array<u32>;

fn token_row(row: u32) -> u32 {
  return min(ids[row], params.vocab - 1u) * params.d;
}

@compute @workgroup_size(WG)
fn gather(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let row = wid.y * params.grid_x + wid.x;
  if (row >= params.rows) { return; }
  let src = token_row(row);
  let dst = row * params.d;
  for (var i = 0u; i < params.d; i += WG) {
    let c = i + lid;
    if (c < params.d) {
      out[dst + c] = table[src + c];
    }
  }
}

/** out row `row` = token row + position row `pos` (an element offset into pos_table). */
fn add_position(row: u32, pos: u32, lid: u32) {
  let src = token_row(row);
  let dst = row * params.d;
  for (var i = 0u; i < params.d; i += WG) {
    let c = i + lid;
    if (c < params.d) {
      out[dst + c] = table[src + c] + pos_table[pos + c];
    }
  }
}

@compute @workgroup_size(WG)
fn gather_pos(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let row = wid.y * params.grid_x + wid.x;
  if (row >= params.rows) { return; }
  add_position(row, (params.pos_offset + row % params.seq_len) * params.d, lid);
}

@compute @workgroup_size(WG)
fn gather_pos_ids(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let row = wid.y * params.grid_x + wid.x;
  if (row >= params.rows) { return; }
  add_position(row, min(pos_ids[row], params.max_pos - 1u) * params.d, lid);
}
