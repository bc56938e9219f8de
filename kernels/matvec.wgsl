// Matrix-vector products for a few rows (decode steps): matmul.wgsl's computation and bindings
// (that file is included before this one) for m <= MV_ROWS rows, MV_ROWS one of 1, 2, 4 (rows past
// m load clamped data and are not stored). Past 4 rows the GEMM tile is faster (its accumulators,
// here MV_ROWS x 16 per lane, start to spill).
//
// Tiling: a workgroup is 8 lanes and owns MV_COLS = 16 columns of out for all m rows. The lanes
// split k (lane l takes the k-steps of 4 at 4l, 4l + 32, ...), so each B value is loaded once, by one
// lane, and the partial sums meet in lanes_sum at the end; per k-step a lane loads 16 B vec4s and m
// A vec4s. Why: with few rows, the n * k loads of B are the work. A 32-row GEMM tile loads the A
// rows once per 32 columns and computes 32 rows whatever m is; this loads A once per 16 columns and
// computes only m rows.
// Grid: (ceil(n / 16), 1, batch). Defines: MV_ROWS and matmul.wgsl's.

const MV_COLS = 16u;

@compute @workgroup_size(8)
fn matvec(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) lane: u32) {
  let base = batch_bases(wg.z);
  let col0 = wg.x * MV_COLS;
  let last_col = params.n - 1u;
  var rows: array<ARow, MV_ROWS>;
  for (var m = 0u; m < MV_ROWS; m++) {
    rows[m] = a_row(base.a, min(m, params.m - 1u));
  }
  // acc[m][g]: partial sums over this lane's k-steps for row m, columns col0 + 4g .. 4g + 3
  var acc: array<array<vec4<f32>, 4>, MV_ROWS>;
  for (var k0 = 0u; k0 < params.k; k0 += 32u) {
    let k = k0 + 4u * lane;
    // Lanes past the end read a valid step and drop it, so the loop stays uniform.
    let kc = min(k, params.k - 4u);
    var w: array<vec4<f32>, MV_COLS>;
    for (var j = 0u; j < MV_COLS; j++) {
      w[j] = load_b(base.b, min(col0 + j, last_col), kc);
    }
    var x: array<vec4<f32>, MV_ROWS>;
    for (var m = 0u; m < MV_ROWS; m++) {
      x[m] = select(vec4<f32>(0.0), load_a(rows[m], kc), k < params.k);
    }
    for (var m = 0u; m < MV_ROWS; m++) {
      for (var g = 0u; g < 4u; g++) {
        let j = 4u * g;
        acc[m][g] += vec4<f32>(dot(x[m], w[j]), dot(x[m], w[j + 1u]), dot(x[m], w[j + 2u]), dot(x[m], w[j + 3u]));
      }
    }
  }
  for (var m = 0u; m < MV_ROWS; m++) {
    for (var g = 0u; g < 4u; g++) {
      let s = lanes_sum(acc[m][g], lane);
      if (lane == g && m < params.m) {
        store4(base.out, m, col0 + 4u * g, s);
      }
    }
  }
}
