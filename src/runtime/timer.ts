import type { GpuContext } from './gpu.ts';
import type { Recorder } from './recorder.ts';

export interface KernelTiming {
  kernel: string;
  ms: number;
}

/**
 * Per-dispatch GPU time from timestamp queries. Recorders ask for a begin/end pair per dispatch;
 * submit resolves the pairs into a buffer; collect() reads them back. Resolution is the adapter's
 * timestamp period (65.5 µs steps on lavapipe), so time many dispatches, not one.
 */
export class GpuTimer {
  readonly querySet: GPUQuerySet;
  private readonly resolveBuffer: GPUBuffer;
  private next = 0;
  private pending: { kernel: string; index: number }[] = [];

  constructor(
    private readonly ctx: GpuContext,
    private readonly capacity: number,
  ) {
    const device = ctx.device;
    this.querySet = device.createQuerySet({ type: 'timestamp', count: capacity, label: 'kernel-timer' });
    this.resolveBuffer = device.createBuffer({
      size: capacity * 8,
      usage: GPUBufferUsage.QUERY_RESOLVE | GPUBufferUsage.COPY_SRC,
      label: 'kernel-timer-resolve',
    });
  }

  nextPair(rec: Recorder): number {
    if (this.next + 2 > this.capacity) rec.flushAndContinue();
    const i = this.next;
    this.next += 2;
    return i;
  }

  resolve(encoder: GPUCommandEncoder, profiled: { kernel: string; index: number }[]): void {
    if (profiled.length === 0) return;
    // Resolve everything since the last collect from query 0: the destination offset must be a
    // multiple of 256, and re-resolving earlier pairs is harmless.
    const last = profiled[profiled.length - 1].index + 2;
    encoder.resolveQuerySet(this.querySet, 0, last, this.resolveBuffer, 0);
    this.pending.push(...profiled);
  }

  /** GPU milliseconds of every profiled dispatch since the last collect, in order. */
  async collect(): Promise<KernelTiming[]> {
    if (this.pending.length === 0) return [];
    const raw = await this.ctx.readBytes(this.resolveBuffer, 0, this.next * 8);
    const ticks = new BigUint64Array(raw);
    const out = this.pending.map(({ kernel, index }) => ({ kernel, ms: Number(ticks[index + 1] - ticks[index]) / 1e6 }));
    this.pending = [];
    this.next = 0;
    return out;
  }

  destroy(): void {
    this.querySet.destroy();
    this.resolveBuffer.destroy();
  }
}
