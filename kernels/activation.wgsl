// Activation functions for fused epilogues (an include, not a kernel).
//
// act: 0 identity, 1 relu, 2 gelu (tanh form), 3 silu — the codes of ACTIVATION_CODE in
// src/runtime/ops/elementwise.ts, and the formulas of activateRef in src/reference/elementwise.ts.
// A kernel passes a constant (specialised, branch-free) or a parameter (one pipeline for all four).

fn activate(v: f32, act: u32) -> f32 {
  switch (act) {
    case 1: { return max(v, 0.0); }
    case 2: {
      // tanh-form GELU; tanh written through exp and clamped so large |v| cannot overflow.
      let u = clamp(0.7978845608028654 * (v + 0.044715 * v * v * v), -15.0, 15.0);
      let e = exp(2.0 * u);
      return 0.5 * v * (1.0 + (e - 1.0) / (e + 1.0));
    }
    case 3: { return v / (1.0 + exp(-v)); }
    default: { return v; }
  }
}
