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
// LayerNorm prologue (NORM_A true): out = LayerNorm(A rows) · B^T + ..., the norm's gamma and beta
// bound as ln_gamma / ln_beta [k] and its epsilon the define NORM_EPS. Each workgroup first computes
// the mean and variance (two passes: mean, then squared deviations) of its rows, lanes splitting k
// as in the product, then normalises each A value as it loads it. In a decode step that saves the
// layernorm dispatch in front of every linear layer (~28 µs each on lavapipe), and recomputing the
// stats per workgroup costs 2 extra reads of a row that is read anyway. Needs params.k to be A's
// true row length (no K padding: the op checks k % 4 == 0). Without NORM_A the op binds `a` as
// ln_gamma and ln_beta, never read.
// Grid: (ceil(n / 16), 1, batch). Defines: MV_ROWS, NORM_A, NORM_EPS and matmul.wgsl's.

const MV_COLS = 16u;

@group(0) @binding(5) var<storage, read> ln_gamma: array<vec4<f32>>;
@group(0) @binding(6) var<storage, read> ln_beta: array<vec4<f32>>;

/** (mean, 1 / sqrt(variance + NORM_EPS)) of one A row, in every lane. Call from uniform control flow. */
fn row_stats(r: ARow, lane: u32) -> vec2<f32> {
  let kf = f32(params.k);
  var s = vec4<f32>(0.0);
  for (var k0 = 0u; k0 < params.k; k0 += 32u) {
    let k = k0 + 4u * lane;
    s += select(vec4<f32>(0.0), load_a(r, min(k, params.k - 4u)), k < params.k);
  }
  let mean = dot(lanes_sum(s, lane), vec4<f32>(1.0)) / kf;
  var q = vec4<f32>(0.0);
  for (var k0 = 0u; k0 < params.k; k0 += 32u) {
    let k = k0 + 4u * lane;
    let d = load_a(r, min(k, params.k - 4u)) - mean;
    q += select(vec4<f32>(0.0), d * d, k < params.k);
  }
  return vec2<f32>(mean, inverseSqrt(dot(lanes_sum(q, lane), vec4<f32>(1.0)) / kf + NORM_EPS));
}

@compute @workgroup_size(8)
fn matvec(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) lane: u32) {
  let base = batch_bases(wg.z);
  let col0 = wg.x * MV_COLS;
  let last_col = params.n - 1u;
  var rows: array<ARow, MV_ROWS>;
  var stats: array<vec2<f32>, MV_ROWS>;
  for (var m = 0u; m < MV_ROWS; m++) {
    rows[m] = a_row(base.a, min(m, params.m - 1u));
    if (NORM_A) {
      stats[m] = row_stats(rows[m], lane);
    }
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
      var xm = load_a(rows[m], kc);
      if (NORM_A) {
        xm = (xm - stats[m].x) * stats[m].y * ln_gamma[kc / 4u] + ln_beta[kc / 4u];
      }
      x[m] = select(vec4<f32>(0.0), xm, k < params.k);
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
