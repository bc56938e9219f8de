// How the 8 lanes of a GEMM workgroup share their A rows: the workgroup-memory version for adapters
// without `subgroups` (an include, not a kernel; gemm_subgroup.wgsl is the fast version).
// Same functions, same results: each lane writes its quarter of the A panel to workgroup memory and
// every lane reads all of it after a barrier.

var<workgroup> panel: array<vec4<f32>, 32>;
var<workgroup> lane_partials: array<vec4<f32>, 8>;

/** acc[i] += bk * panel[first + i]. */
fn row_block(acc: ptr<function, array<vec4<f32>, 8>>, first: u32, bk: mat4x4<f32>) {
  (*acc)[0] += bk * panel[first];
  (*acc)[1] += bk * panel[first + 1u];
  (*acc)[2] += bk * panel[first + 2u];
  (*acc)[3] += bk * panel[first + 3u];
  (*acc)[4] += bk * panel[first + 4u];
  (*acc)[5] += bk * panel[first + 5u];
  (*acc)[6] += bk * panel[first + 6u];
  (*acc)[7] += bk * panel[first + 7u];
}

/** See gemm_subgroup.wgsl. Call from uniform control flow (it has barriers). */
fn accumulate_panel(acc: ptr<function, Tile>, a0: vec4<f32>, a1: vec4<f32>, a2: vec4<f32>, a3: vec4<f32>, bk: mat4x4<f32>, lane: u32) {
  panel[lane] = a0;
  panel[8u + lane] = a1;
  panel[16u + lane] = a2;
  panel[24u + lane] = a3;
  workgroupBarrier();
  row_block(&(*acc)[0], 0u, bk);
  row_block(&(*acc)[1], 8u, bk);
  row_block(&(*acc)[2], 16u, bk);
  row_block(&(*acc)[3], 24u, bk);
  workgroupBarrier();
}

/** Sum of v over the 8 lanes, in every lane. Call from uniform control flow (it has barriers). */
fn lanes_sum(v: vec4<f32>, lane: u32) -> vec4<f32> {
  lane_partials[lane] = v;
  workgroupBarrier();
  var s = vec4<f32>(0.0);
  for (var i = 0u; i < 8u; i++) {
    s += lane_partials[i];
  }
  workgroupBarrier();
  return s;
}
