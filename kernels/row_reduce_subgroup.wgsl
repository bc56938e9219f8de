// Workgroup-wide reductions for row kernels: the subgroup version (an include, not a kernel).
//
// The ops include this file only when a whole workgroup fits in one subgroup (WG <= the adapter's
// minimum subgroup size, e.g. 8 lanes on lavapipe), so a subgroup operation reduces the whole
// workgroup in registers: no shared memory and no barriers, both slow on lavapipe.
// row_reduce_shared.wgsl defines the same functions for adapters without `subgroups`.
// Call every function from all invocations of the workgroup, in uniform control flow.
// `lid` (local_invocation_index) is unused here; the shared version needs it.
// Kernels branch on the results of these reductions (e.g. sampling's threshold search) and reduce
// again inside the branch. The results are the same in every lane of the one subgroup, so every
// lane takes the same path, but the uniformity analysis cannot know that: its subgroup rule is
// turned off (the shared version gets the same guarantee from workgroupUniformLoad).
enable subgroups;
diagnostic(off, subgroup_uniformity);

fn row_sum(v: f32, lid: u32) -> f32 {
  return subgroupAdd(v);
}

fn row_sum4(v: vec4<f32>, lid: u32) -> vec4<f32> {
  return subgroupAdd(v);
}

fn row_max(v: f32, lid: u32) -> f32 {
  return subgroupMax(v);
}

/** Smallest value over the workgroup; values must be below 2^24 (the shared version goes through f32). */
fn row_min_index(v: u32, lid: u32) -> u32 {
  return subgroupMin(v);
}

/** Sum of v over the invocations with a smaller local index. */
fn row_exclusive_sum(v: f32, lid: u32) -> f32 {
  return subgroupExclusiveAdd(v);
}
