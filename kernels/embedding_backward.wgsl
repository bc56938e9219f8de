// Backward of an embedding lookup (out[t] = table[ids[t]]): the scatter-add of output rows into
// table rows, dtable[v] = sum over t with ids[t] == v of dout[t], without atomics (WGSL has no f32
// atomics, and float atomics would make the summation order, and so the result, vary run to run).
//
// A counting sort of the tokens by id, then one segment sum per table row, all deterministic:
//   row_starts: one thread per v in [0, vocab]: start[v] = #{t : ids[t] < v}.
//   place:      one thread per token t: order[start[id] + #{j < t : ids[j] == id}] = t, so each
//               row's tokens are listed in token order.
//   accumulate: one workgroup of WG lanes per table row (row = wid.y * grid_x + wid.x), lane l owns
//               the row's V chunks l, l + WG, ...: dtable[v] = sum of dout[order[e]] for e in
//               [start[v], start[v + 1]). Every row is written (zeros for ids that did not occur).
// Cost: vocab * tokens id comparisons (row_starts) + tokens^2 / 2 (place), each thread reading the
// ids at lane-uniform addresses (one load per subgroup on lavapipe), plus tokens * dim adds and
// vocab * dim writes. (Scanning all ids per (row, column) instead would be vocab * tokens * dim.)
// Layout: ids [tokens] (u32 or i32: a negative id reads as a huge u32, and ids >= vocab match no
// row, so a -1 padding id gets no gradient); dout [tokens, dim], dtable [vocab, dim] row-major f32
// read as V chunks (lane_vector: vec4 when dim % 4 == 0); start [vocab + 1], order [tokens] u32.
// Limits: vocab and tokens below 65535 * 256 threads; vocab <= 65535^2 rows for accumulate.

struct Params {
  tokens: u32,
  vocab: u32,
  n: u32,
  grid_x: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> ids: array<u32>;
@group(0) @binding(2) var<storage, read> dout: array<V>;
@group(0) @binding(3) var<storage, read_write> dtable: array<V>;
@group(0) @binding(4) var<storage, read_write> start: array<u32>;
@group(0) @binding(5) var<storage, read_write> order: array<u32>;

@compute @workgroup_size(WG)
fn row_starts(@builtin(global_invocation_id) gid: vec3<u32>) {
  let v = gid.y * params.grid_x * WG + gid.x;
  if (v > params.vocab) { return; }
  var below = 0u;
  for (var t = 0u; t < params.tokens; t++) {
    below += select(0u, 1u, ids[t] < v);
  }
  start[v] = below;
}

@compute @workgroup_size(WG)
fn place(@builtin(global_invocation_id) gid: vec3<u32>) {
  let t = gid.y * params.grid_x * WG + gid.x;
  if (t >= params.tokens) { return; }
  let id = ids[t];
  if (id >= params.vocab) { return; }
  var rank = 0u;
  for (var j = 0u; j < t; j++) {
    rank += select(0u, 1u, ids[j] == id);
  }
  order[start[id] + rank] = t;
}

@compute @workgroup_size(WG)
fn accumulate(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let row = wid.y * params.grid_x + wid.x;
  if (row >= params.vocab) { return; }
  let n = params.n;
  let first = start[row];
  let end = start[row + 1u];
  for (var c = lid; c < n; c += WG) {
    var acc = V(0.0);
    for (var e = first; e < end; e++) {
      acc += dout[order[e] * n + c];
    }
    dtable[row * n + c] = acc;
  }
}
