// Matrix multiplication: out[batch] = act(alpha * A[batch] · B[batch]^T + bias) (+ out), see gemm.wgsl.
//
// Layout: A [batch][m, k] row-major f32 read as vec4 along k; B [batch][n, k] (K-major, see
// gemm.wgsl); out [batch][m, n]. params.k is a multiple of 4; a_batch / b_batch / c_batch are the
// element strides between batches (0 broadcasts a batch of one). The op (src/runtime/ops/matmul.ts)
// transposes and pads operands into this form.
// Entry `matmul`: the 32 x 32 register-blocked tile of gemm.wgsl, grid (ceil(n/32), ceil(m/32), batch).
// Limits: batch <= 65535 (grid z).
// matvec.wgsl adds a second entry over these bindings for a few rows (decode).
// Includes: activation, gemm_subgroup or gemm_shared, gemm.
// Defines: BT (vec4<f32> or vec4<f16>).

struct Params {
  m: u32,
  n: u32,
  k: u32,
  a_batch: u32,
  b_batch: u32,
  c_batch: u32,
  alpha: f32,
  act: u32,
  epilogue: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> a: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> b: array<BT>;
@group(0) @binding(3) var<storage, read> bias: array<f32>;
@group(0) @binding(4) var<storage, read_write> out: array<f32>;

/** Element offset of A row `row` (a multiple of 4). */
alias ARow = u32;

fn a_row(a_base: u32, row: u32) -> ARow {
  return a_base + row * params.k;
}

/** The offsets of batch `batch` (the grid's z). */
fn batch_bases(batch: u32) -> Bases {
  return Bases(batch * params.a_batch, batch * params.b_batch, batch * params.c_batch);
}

fn load_a(r: ARow, k: u32) -> vec4<f32> {
  return a[(r + k) / 4u];
}

@compute @workgroup_size(8)
fn matmul(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) lane: u32) {
  gemm_tile(wg.xy, lane, batch_bases(wg.z));
}
