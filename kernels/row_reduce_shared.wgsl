// Workgroup-wide reductions for row kernels: the shared-memory version (an include, not a kernel).
//
// Used where the adapter lacks `subgroups` (or its subgroups may be smaller than the workgroup).
// A tree over workgroup memory; WG must be a power of two. Same functions as
// row_reduce_subgroup.wgsl; call them from all invocations, in uniform control flow.

var<workgroup> row_scratch: array<vec4<f32>, WG>;

const ROW_SUM = 0u;
const ROW_MAX = 1u;

fn row_tree(v: vec4<f32>, lid: u32, op: u32) -> vec4<f32> {
  row_scratch[lid] = v;
  workgroupBarrier();
  for (var half = WG / 2u; half > 0u; half >>= 1u) {
    if (lid < half) {
      let other = row_scratch[lid + half];
      if (op == ROW_MAX) {
        row_scratch[lid] = max(row_scratch[lid], other);
      } else {
        row_scratch[lid] += other;
      }
    }
    workgroupBarrier();
  }
  // A uniform load (with the barrier the next call needs before reusing the scratch): callers may
  // branch on the result and call these functions again inside the branch.
  return workgroupUniformLoad(&row_scratch[0]);
}

fn row_sum(v: f32, lid: u32) -> f32 {
  return row_tree(vec4<f32>(v, 0.0, 0.0, 0.0), lid, ROW_SUM).x;
}

fn row_sum4(v: vec4<f32>, lid: u32) -> vec4<f32> {
  return row_tree(v, lid, ROW_SUM);
}

fn row_max(v: f32, lid: u32) -> f32 {
  return row_tree(vec4<f32>(v, 0.0, 0.0, 0.0), lid, ROW_MAX).x;
}

/** Smallest value over the workgroup; values must be below 2^24 (exact in f32). */
fn row_min_index(v: u32, lid: u32) -> u32 {
  return u32(-row_tree(vec4<f32>(-f32(v), 0.0, 0.0, 0.0), lid, ROW_MAX).x);
}

/** Sum of v over the invocations with a smaller local index. */
fn row_exclusive_sum(v: f32, lid: u32) -> f32 {
  row_scratch[lid] = vec4<f32>(v, 0.0, 0.0, 0.0);
  workgroupBarrier();
  var below = 0.0;
  for (var i = 0u; i < lid; i++) {
    below += row_scratch[i].x;
  }
  workgroupBarrier();
  return below;
}
