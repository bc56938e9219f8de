// How the 8 lanes of a GEMM workgroup share their A rows: the subgroup version (an include, not a
// kernel; gemm_shared.wgsl defines the same functions with workgroup memory).
//
// The ops include this file only when the adapter has `subgroups` and a minimum subgroup size of at
// least 8, so the 8-invocation workgroup is one subgroup and invocation i is subgroup lane i.
// On lavapipe (Mesa 25) a subgroupBroadcast is a register shuffle, while every buffer or workgroup
// memory read from a lane-varying address runs lane by lane: each lane loads a quarter of the
// panel once and the other lanes get it from registers.
enable subgroups;

/** acc[i] += bk * (A row i of this block), where lane i holds row i in `a`. */
fn row_block(acc: ptr<function, array<vec4<f32>, 8>>, a: vec4<f32>, bk: mat4x4<f32>) {
  (*acc)[0] += bk * subgroupBroadcast(a, 0u);
  (*acc)[1] += bk * subgroupBroadcast(a, 1u);
  (*acc)[2] += bk * subgroupBroadcast(a, 2u);
  (*acc)[3] += bk * subgroupBroadcast(a, 3u);
  (*acc)[4] += bk * subgroupBroadcast(a, 4u);
  (*acc)[5] += bk * subgroupBroadcast(a, 5u);
  (*acc)[6] += bk * subgroupBroadcast(a, 6u);
  (*acc)[7] += bk * subgroupBroadcast(a, 7u);
}

/**
 * One k-step of the 32 x 32 tile: a_q is this lane's 4 k-values of tile row q * 8 + lane, bk holds
 * the lane's 4 columns (bk[j] = B values at k + j). Call from uniform control flow.
 */
fn accumulate_panel(acc: ptr<function, Tile>, a0: vec4<f32>, a1: vec4<f32>, a2: vec4<f32>, a3: vec4<f32>, bk: mat4x4<f32>, lane: u32) {
  row_block(&(*acc)[0], a0, bk);
  row_block(&(*acc)[1], a1, bk);
  row_block(&(*acc)[2], a2, bk);
  row_block(&(*acc)[3], a3, bk);
}

/** Sum of v over the 8 lanes, in every lane. Call from uniform control flow. */
fn lanes_sum(v: vec4<f32>, lane: u32) -> vec4<f32> {
  return subgroupAdd(v);
}
