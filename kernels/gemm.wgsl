// GEMM core shared by matmul.wgsl, matvec.wgsl and conv2d.wgsl (an include, not a kernel).
//
//   out[row, col] = act(alpha * sum_k A(row, k) * B[col, k] + bias[col]) (+ out[row, col])
// The epilogue is chosen at run time (params.act, params.epilogue flags), not specialised: it runs
// once per output, and every specialisation would be another pipeline to compile (seconds each on
// lavapipe for this much unrolled code).
//
// Layout: B is K-major, [cols, params.k] (nn.Linear's [out, in]), read as BT = vec4<f32> or
// vec4<f16> (f16 weights, f32 arithmetic); params.k is a multiple of 4 (the ops pad K). out is
// dense [m, n] f32. A comes from the including kernel: `a_row(a_base, row) -> ARow` (the row's
// loop-invariant part) and `load_a(r: ARow, k) -> vec4<f32>` (A(row, k..k+3)). The including
// kernel also declares `params` (with m, n, k, alpha, act, epilogue) and the bindings b, bias, out,
// and passes the element offsets of the batch a workgroup works on (Bases).
//
// Tiling (gemm_tile): a workgroup is 8 lanes and owns a 32 x 32 tile of out; lane l owns columns
// 4l..4l+3 of it for all 32 rows (32 vec4 accumulators). Per k-step of 4, lane l loads 4 A rows
// (tile rows l, l+8, l+16, l+24) and its 4 B rows as vec4s, then accumulate_panel (from
// gemm_subgroup.wgsl or gemm_shared.wgsl) shares the A rows among the lanes.
// Why this shape (measured on lavapipe, Mesa 25, where the 8 lanes are one 256-bit SIMD vector):
//  - A buffer read from a lane-varying address runs lane by lane: per lane a bounds check, a scalar
//    load and an insert per value; a vec4 shares the per-lane part, so vec4 loads are cheaper per
//    value (scalar loads made this loop ~1.4x slower). Loads are about half the loop's instructions
//    even here, where each lane loads 1/16 of a value per multiply-add.
//  - Multiply-adds compile to a multiply and an add (no FMA), and the 128 accumulators live on the
//    stack, so the arithmetic is the other half: 32 x 64 and 64 x 64 tiles and k unrolled by 2 all
//    ran slower (more spills) than this 32 x 32 tile with k-steps of 4.
//  - All loads of a k-step come before its arithmetic: interleaving them made LLVM spill around
//    each lane-by-lane load sequence (~30% slower).
//  - B read along k (this layout) ran ~1.7x faster than B [k, n] read along n, hence the op's
//    transposes.
// Edges: rows and columns past m and n load clamped (valid) data and are not stored.
// Limits: element offsets below 2^32.

const TILE = 32u;
/** params.epilogue flags. */
const ADD_BIAS = 1u;
const ACCUMULATE = 2u;

/** acc[q][i] = tile row q * 8 + i, this lane's 4 columns. */
alias Tile = array<array<vec4<f32>, 8>, 4>;

/** Element offsets of one product's A, B and out in their buffers (a batch of a batched product). */
struct Bases {
  a: u32,
  b: u32,
  out: u32,
}

/** B[col, k..k+3] (b_base and params.k are multiples of 4). */
fn load_b(b_base: u32, col: u32, k: u32) -> vec4<f32> {
  return vec4<f32>(b[(b_base + col * params.k + k) / 4u]);
}

/** The epilogue for 4 adjacent columns of one row (columns past params.n are skipped). */
fn store4(out_base: u32, row: u32, col: u32, v: vec4<f32>) {
  let base = out_base + row * params.n;
  for (var j = 0u; j < 4u; j++) {
    let c = col + j;
    if (c < params.n) {
      var y = params.alpha * v[j];
      if ((params.epilogue & ADD_BIAS) != 0u) {
        y += bias[c];
      }
      y = activate(y, params.act);
      if ((params.epilogue & ACCUMULATE) != 0u) {
        y += out[base + c];
      }
      out[base + c] = y;
    }
  }
}

/** The 32 x 32 tile `tile` (column block x, row block y) of one product. */
fn gemm_tile(tile: vec2<u32>, lane: u32, base: Bases) {
  let row0 = tile.y * TILE;
  let col = tile.x * TILE + 4u * lane;
  let last_row = params.m - 1u;
  let last_col = params.n - 1u;
  let ar0 = a_row(base.a, min(row0 + lane, last_row));
  let ar1 = a_row(base.a, min(row0 + 8u + lane, last_row));
  let ar2 = a_row(base.a, min(row0 + 16u + lane, last_row));
  let ar3 = a_row(base.a, min(row0 + 24u + lane, last_row));
  let c0 = min(col, last_col);
  let c1 = min(col + 1u, last_col);
  let c2 = min(col + 2u, last_col);
  let c3 = min(col + 3u, last_col);
  var acc: Tile;
  for (var k = 0u; k < params.k; k += 4u) {
    let a0 = load_a(ar0, k);
    let a1 = load_a(ar1, k);
    let a2 = load_a(ar2, k);
    let a3 = load_a(ar3, k);
    let bk = transpose(mat4x4<f32>(load_b(base.b, c0, k), load_b(base.b, c1, k), load_b(base.b, c2, k), load_b(base.b, c3, k)));
    accumulate_panel(&acc, a0, a1, a2, a3, bk, lane);
  }
  for (var q = 0u; q < 4u; q++) {
    for (var i = 0u; i < 8u; i++) {
      let row = row0 + q * 8u + i;
      if (row < params.m) {
        store4(base.out, row, col, acc[q][i]);
      }
    }
  }
}
