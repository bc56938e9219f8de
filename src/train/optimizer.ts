/**
 * AdamW on the GPU (kernels/optimizer.wgsl): decoupled weight decay, bias correction, clipping by
 * the global gradient norm, a learning-rate schedule (linear warm-up, cosine decay) and a check
 * that stops training on a NaN/Inf loss or gradient, naming the step and the tensor.
 *
 * A step is recorded into the same recorder as the forward and backward (one submit per step).
 * The norm, the clip scale and the non-finite flag never leave the GPU during the step: the update
 * kernels read them from the step's `stats` tensor and skip the update when anything was
 * non-finite, so weights and moments stay intact. The host learns the outcome from one small
 * readback (`StepResult.read()`), which also carries the step's losses.
 */
import { AtelierGpuError } from '../runtime/errors.ts';
import type { GpuContext } from '../runtime/gpu.ts';
import { grid1d } from '../runtime/ops/grid.ts';
import type { Recorder } from '../runtime/recorder.ts';
import type { Tensor } from '../runtime/tensor.ts';
import type { Parameter } from './autograd.ts';

export interface Schedule {
  /** Learning rate reached at the end of warm-up. */
  peak: number;
  warmupSteps: number;
  /** Steps of the whole run; the cosine reaches `floor` here and stays there. */
  totalSteps: number;
  /** Final learning rate (default 0). */
  floor?: number;
}

/** Learning rate for the update with 0-based index `step`: linear warm-up to `peak`, then cosine to `floor`. */
export function learningRate(step: number, s: Schedule): number {
  const floor = s.floor ?? 0;
  if (step < s.warmupSteps) return (s.peak * (step + 1)) / s.warmupSteps;
  const span = Math.max(1, s.totalSteps - s.warmupSteps);
  const progress = Math.min(1, (step - s.warmupSteps) / span);
  return floor + 0.5 * (s.peak - floor) * (1 + Math.cos(Math.PI * progress));
}

export interface AdamWOptions {
  /** A fixed learning rate, or a schedule. */
  lr: number | Schedule;
  beta1?: number;
  beta2?: number;
  eps?: number;
  /** Decoupled weight decay, applied to parameters whose `decay` is true (default 0.01). */
  weightDecay?: number;
  /** Clip gradients to this global L2 norm; 0 or absent disables clipping. */
  clipNorm?: number;
}

/** Thrown by StepResult.read() when a loss or a gradient was NaN/Inf (the update was skipped on GPU). */
export class NonFiniteError extends Error {
  constructor(
    readonly step: number,
    /** Loss or parameter names, first the losses. */
    readonly tensors: string[],
  ) {
    const shown = tensors.slice(0, 5).join(', ') + (tensors.length > 5 ? ` and ${tensors.length - 5} more` : '');
    super(`non-finite value (NaN/Inf) at step ${step}: ${shown}; the update was skipped and training stopped. Lower the learning rate, enable clipNorm, or check the inputs of that step.`);
    this.name = 'NonFiniteError';
  }
}

export interface StepReport {
  /** 0-based index of the update. */
  step: number;
  lr: number;
  /** Losses passed to step(), by name, as computed in that step. */
  losses: Record<string, number>;
  /** Global gradient L2 norm before clipping. */
  gradNorm: number;
  /** Factor applied to the gradients (1 when not clipped). */
  clipScale: number;
}

/** The outcome of a recorded step, available after the recorder was submitted. */
export class StepResult {
  private done = false;

  constructor(
    private readonly stats: Tensor,
    private readonly step: number,
    private readonly lr: number,
    private readonly lossNames: string[],
    private readonly paramNames: string[],
  ) {}

  /** Read the step's stats (one readback) and throw NonFiniteError if the step was skipped. */
  async read(): Promise<StepReport> {
    if (this.done) throw new AtelierGpuError('usage', `step ${this.step}: its result was already read`);
    this.done = true;
    let s: Float32Array;
    try {
      s = (await this.stats.read()) as Float32Array;
    } finally {
      this.stats.dispose();
    }
    const losses: Record<string, number> = {};
    this.lossNames.forEach((name, i) => (losses[name] = s[4 + i]));
    if (s[2] > 0) {
      const bad = this.lossNames.filter((name) => !Number.isFinite(losses[name])).map((name) => `loss '${name}' = ${losses[name]}`);
      const badStart = 4 + this.lossNames.length + this.paramNames.length;
      this.paramNames.forEach((name, i) => {
        if (s[badStart + i] > 0) bad.push(`gradient of '${name}' (${s[badStart + i]} values)`);
      });
      throw new NonFiniteError(this.step, bad);
    }
    return { step: this.step, lr: this.lr, losses, gradNorm: s[0], clipScale: s[1] };
  }
}

/** Workgroups per parameter for the norm's partial sums: enough to spread large tensors, few enough to finalize cheaply. */
const MAX_NORM_GROUPS = 64;
const ELEMENTS_PER_THREAD = 8;

export interface MomentState {
  name: string;
  m: Float32Array;
  v: Float32Array;
}

export class AdamW {
  /** Number of updates recorded so far (the next update has this 0-based index). */
  stepCount = 0;
  private readonly m: Tensor[];
  private readonly v: Tensor[];
  private readonly groups: number[];
  private readonly partials: Tensor;
  private readonly ranges: Tensor;
  private readonly opts: Required<Omit<AdamWOptions, 'lr'>> & { lr: number | Schedule };
  private readonly wg: number;

  constructor(
    private readonly ctx: GpuContext,
    readonly params: readonly Parameter[],
    options: AdamWOptions,
  ) {
    if (params.length === 0) throw new AtelierGpuError('usage', 'AdamW: no parameters');
    const names = new Set<string>();
    for (const p of params) {
      if (p.value.dtype !== 'f32') throw new AtelierGpuError('usage', `AdamW: parameter '${p.name}' is ${p.value.dtype}; train in f32 (convert to f16 when exporting)`);
      if (names.has(p.name)) throw new AtelierGpuError('usage', `AdamW: two parameters are named '${p.name}'`);
      names.add(p.name);
    }
    this.opts = { beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.01, clipNorm: 0, ...options };
    this.wg = ctx.kernels.get({ file: 'optimizer', entry: 'adamw' }).workgroupSize[0];
    this.m = params.map((p) => ctx.zeros(p.value.shape, 'f32', `${p.name}.adam_m`));
    this.v = params.map((p) => ctx.zeros(p.value.shape, 'f32', `${p.name}.adam_v`));
    this.groups = params.map((p) => Math.max(1, Math.min(MAX_NORM_GROUPS, Math.ceil(p.value.size / (this.wg * ELEMENTS_PER_THREAD)))));
    const ranges = new Uint32Array(params.length + 1);
    this.groups.forEach((g, i) => (ranges[i + 1] = ranges[i] + g));
    this.ranges = ctx.tensor(ranges, [ranges.length], 'u32', 'adamw.ranges');
    this.partials = ctx.empty([2 * ranges[params.length]], 'f32', 'adamw.partials');
  }

  /** The learning rate the next update will use. */
  get currentLr(): number {
    const lr = this.opts.lr;
    return typeof lr === 'number' ? lr : learningRate(this.stepCount, lr);
  }

  /**
   * Record one update from the parameters' gradients into `rec`, consuming them (each
   * Parameter.grad is released and set to null). Parameters without a gradient are not updated.
   * `losses` (each a [1] tensor) are checked for NaN/Inf and returned by StepResult.read().
   */
  step(rec: Recorder, losses: Record<string, Tensor> = {}): StepResult {
    const ctx = this.ctx;
    const kernels = ctx.kernels;
    const lossNames = Object.keys(losses);
    const T = this.params.length;
    const stats = ctx.empty([4 + lossNames.length + 2 * T], 'f32', 'adamw.stats');
    const base = this.baseParams(lossNames.length);

    const sumsq = kernels.get({ file: 'optimizer', entry: 'sumsq_partials' });
    let slot = 0;
    this.params.forEach((p, i) => {
      const g = p.grad;
      if (g && g.size !== p.value.size) throw new AtelierGpuError('usage', `AdamW: gradient of '${p.name}' has shape [${g.shape.join(', ')}], the parameter [${p.value.shape.join(', ')}]`);
      // without a gradient, n = 0 writes zero partials (the value is bound but never read)
      rec.dispatch(sumsq, { grad: g ?? p.value, partials: this.partials }, { ...base, n: g ? g.size : 0, groups: this.groups[i], slot }, [this.groups[i]]);
      slot += this.groups[i];
    });
    const copy = kernels.get({ file: 'optimizer', entry: 'copy_scalar' });
    lossNames.forEach((name, i) => {
      if (losses[name].size !== 1) throw new AtelierGpuError('usage', `AdamW: loss '${name}' must be a single value, got [${losses[name].shape.join(', ')}]`);
      rec.dispatch(copy, { src: losses[name], stats }, { ...base, slot: 4 + i }, [1]);
    });
    rec.dispatch(kernels.get({ file: 'optimizer', entry: 'finalize' }), { partials: this.partials, ranges: this.ranges, stats }, base, [1]);

    const t = this.stepCount + 1;
    const lr = this.currentLr;
    const adamw = kernels.get({ file: 'optimizer', entry: 'adamw' });
    this.params.forEach((p, i) => {
      if (!p.grad) return;
      const grid = grid1d(p.value.size, this.wg);
      rec.dispatch(
        adamw,
        { grad: p.grad, param: p.value, m: this.m[i], v: this.v[i], stats_in: stats },
        {
          ...base,
          n: p.value.size,
          row_pitch: grid.rowPitch,
          lr,
          weight_decay: p.decay ? this.opts.weightDecay : 0,
          correction1: 1 - this.opts.beta1 ** t,
          correction2: 1 - this.opts.beta2 ** t,
        },
        grid.workgroups,
      );
      p.zeroGrad();
    });
    const result = new StepResult(stats, this.stepCount, lr, lossNames, this.params.map((p) => p.name));
    this.stepCount++;
    return result;
  }

  /** Moments and step count for a checkpoint (call between steps). */
  async exportState(): Promise<{ stepCount: number; moments: MomentState[] }> {
    const moments: MomentState[] = [];
    for (let i = 0; i < this.params.length; i++) {
      moments.push({ name: this.params[i].name, m: (await this.m[i].read()) as Float32Array, v: (await this.v[i].read()) as Float32Array });
    }
    return { stepCount: this.stepCount, moments };
  }

  /** Restore exportState()'s output (call between steps, not while a recorder is open). */
  importState(state: { stepCount: number; moments: MomentState[] }): void {
    const byName = new Map(state.moments.map((s) => [s.name, s]));
    this.params.forEach((p, i) => {
      const s = byName.get(p.name);
      if (!s) throw new AtelierGpuError('usage', `AdamW.importState: no moments for parameter '${p.name}'`);
      if (s.m.length !== p.value.size || s.v.length !== p.value.size) {
        throw new AtelierGpuError('usage', `AdamW.importState: moments of '${p.name}' have ${s.m.length} values, the parameter ${p.value.size}`);
      }
      this.ctx.write(this.m[i], s.m);
      this.ctx.write(this.v[i], s.v);
    });
    this.stepCount = state.stepCount;
  }

  dispose(): void {
    for (const t of [...this.m, ...this.v, this.partials, this.ranges]) t.dispose();
  }

  private baseParams(losses: number) {
    const o = this.opts;
    return {
      n: 0,
      row_pitch: 0,
      groups: 1,
      slot: 0,
      tensors: this.params.length,
      losses,
      max_norm: o.clipNorm,
      lr: 0,
      beta1: o.beta1,
      beta2: o.beta2,
      eps: o.eps,
      weight_decay: 0,
      correction1: 1,
      correction2: 1,
    };
  }
}
