import { AtelierGpuError } from './errors.ts';
import type { GpuContext } from './gpu.ts';
import type { Kernel } from './kernels.ts';
import { Tensor } from './tensor.ts';

/** What a kernel binding can be given: a tensor, a whole buffer, or a byte range of one. */
export type BindingResource = Tensor | GPUBuffer | { buffer: GPUBuffer; offset?: number; size?: number };

export type Workgroups = readonly [number, number?, number?];

/**
 * Records many dispatches into one command encoder and one compute pass (on lavapipe a dispatch
 * costs ~28 µs inside one pass against ~280 µs with a pass per dispatch). Kernel parameters go
 * through the context's uniform ring: each dispatch takes a 256-byte-aligned slot, and submit()
 * uploads the used part with a single writeBuffer. A copy or a profiled dispatch ends the current
 * pass; the next dispatch opens a new one.
 *
 * Only one recorder may be open per context at a time, because they share the ring.
 */
export class Recorder {
  private encoder: GPUCommandEncoder;
  private pass: GPUComputePassEncoder | null = null;
  private closed = false;
  /** The command buffer once finish() ran, until submit() or discard(). */
  private commands: GPUCommandBuffer | null = null;
  private readonly profiled: { kernel: string; index: number }[] = [];
  private readonly afterSubmit: (() => void)[] = [];
  dispatchCount = 0;

  constructor(
    readonly ctx: GpuContext,
    readonly label: string,
  ) {
    this.encoder = ctx.device.createCommandEncoder({ label });
  }

  dispatch(kernel: Kernel, bindings: Record<string, BindingResource>, params: Record<string, number> | null, workgroups: Workgroups): void {
    this.assertOpen();
    const [x, y = 1, z = 1] = workgroups;
    if (x === 0 || y === 0 || z === 0) return; // empty problem: nothing to run
    if (this.ctx.skipDispatches) return; // planning: the kernel was requested, nothing runs
    const maxDim = this.ctx.limits.maxComputeWorkgroupsPerDimension;
    if (x > maxDim || y > maxDim || z > maxDim) {
      throw new AtelierGpuError('too-large', `kernel ${kernel.name}: dispatch ${x}x${y}x${z} exceeds ${maxDim} workgroups per dimension`);
    }
    let dynamicOffset: number | null = null;
    if (kernel.params) {
      if (!params) throw new AtelierGpuError('usage', `kernel ${kernel.name} needs params {${kernel.params.members.map((m) => m.name).join(', ')}}`);
      dynamicOffset = this.ctx.uniforms.write(kernel, params, this);
    }
    const bindGroup = this.ctx.bindGroups.get(kernel, bindings);
    const timing = this.ctx.timer;
    if (timing) {
      this.endPass();
      const index = timing.nextPair(this);
      this.pass = this.encoder.beginComputePass({
        label: kernel.name,
        timestampWrites: { querySet: timing.querySet, beginningOfPassWriteIndex: index, endOfPassWriteIndex: index + 1 },
      });
      this.profiled.push({ kernel: kernel.name, index });
    } else if (!this.pass) {
      this.pass = this.encoder.beginComputePass({ label: this.label });
    }
    const pass = this.pass!;
    pass.setPipeline(kernel.pipeline);
    pass.setBindGroup(0, bindGroup, dynamicOffset === null ? [] : [dynamicOffset]);
    pass.dispatchWorkgroups(x, y, z);
    this.dispatchCount++;
    if (timing) this.endPass();
  }

  /** Buffer-to-buffer copy (ends the current compute pass). */
  copy(src: GPUBuffer, srcOffset: number, dst: GPUBuffer, dstOffset: number, bytes: number): void {
    this.assertOpen();
    this.endPass();
    this.encoder.copyBufferToBuffer(src, srcOffset, dst, dstOffset, bytes);
  }

  /** The raw encoder, with the compute pass closed, for commands the recorder does not wrap. */
  rawEncoder(): GPUCommandEncoder {
    this.assertOpen();
    this.endPass();
    return this.encoder;
  }

  /**
   * Hand an op's scratch tensor back to the pool once this recording is submitted. Disposing it at
   * once would be unsafe: a tensor uploaded later in the same recording could get the buffer, and
   * its queue.writeBuffer runs before any of the recorded dispatches.
   */
  disposeAfterSubmit(t: Tensor): void {
    this.afterSubmit.push(() => t.dispose());
  }

  /** Run `fn` once this recording has been submitted (e.g. hand a staging buffer back). */
  onSubmitted(fn: () => void): void {
    this.afterSubmit.push(fn);
  }

  /**
   * Close the recording without submitting it: the pass ends, the kernel parameters are uploaded
   * and the command buffer is built. Uploads made after this (ctx.write) run before it, so a decode
   * loop can record a forward pass ahead while the GPU runs the previous one, then write its inputs
   * (positions) and submit.
   */
  finish(): void {
    this.assertOpen();
    this.endPass();
    this.ctx.timer?.resolve(this.encoder, this.profiled);
    // Held from here until submit or discard, so the upload below is not overwritten meanwhile.
    this.ctx.uniforms.hold();
    this.ctx.uniforms.flush();
    this.commands = this.encoder.finish({ label: this.label });
    this.ctx.closeRecorder(this);
  }

  /** Submit (finishing first if needed). Returns the labels of profiled dispatches (empty unless timing is on). */
  submit(): { kernel: string; index: number }[] {
    if (this.closed) throw new AtelierGpuError('usage', `recorder ${this.label} was already submitted or discarded`);
    if (!this.commands) this.finish();
    this.ctx.submit(this.commands!, this.label);
    this.settleAfterSubmit();
    return this.profiled;
  }

  /** Drop a finished recording that will not run (a decode step recorded ahead and not needed). */
  discard(): void {
    if (this.closed) throw new AtelierGpuError('usage', `recorder ${this.label} was already submitted or discarded`);
    if (!this.commands) this.finish();
    this.settleAfterSubmit();
  }

  private settleAfterSubmit(): void {
    this.closed = true;
    this.commands = null;
    this.ctx.uniforms.release();
    for (const fn of this.afterSubmit.splice(0)) fn();
  }

  /** Submit what was recorded so far and continue in a fresh encoder (used when the ring fills up). */
  flushAndContinue(): void {
    if (this.ctx.uniforms.holds > 0) {
      throw new AtelierGpuError('usage', `recorder ${this.label}: the uniform ring is full while another recording waits to be submitted (submit it first, or enlarge uniformRingBytes)`);
    }
    this.endPass();
    this.ctx.timer?.resolve(this.encoder, this.profiled.splice(0));
    this.ctx.uniforms.flush();
    this.ctx.submit(this.encoder.finish({ label: this.label }), this.label);
    this.encoder = this.ctx.device.createCommandEncoder({ label: this.label });
  }

  private endPass(): void {
    if (this.pass) {
      this.pass.end();
      this.pass = null;
    }
  }

  private assertOpen(): void {
    if (this.closed || this.commands) throw new AtelierGpuError('usage', `recorder ${this.label} was already finished`);
  }
}

/**
 * The shared uniform ring: one uniform buffer, a CPU mirror, and a cursor. Slots are handed out in
 * order while a recorder is open; flush() uploads the slots written since the last flush. The ring
 * rewinds to 0 only when no finished recording waits to be submitted (`holds`): a rewind followed
 * by an upload would overwrite what such a recording will read. Reuse after a submit is safe
 * because queue operations run in order: the next upload lands after the submitted work read it.
 */
export class UniformRing {
  readonly buffer: GPUBuffer;
  private readonly mirror: ArrayBuffer;
  private readonly f32: Float32Array;
  private readonly u32: Uint32Array;
  private readonly i32: Int32Array;
  private cursor = 0;
  /** Start of the slots not uploaded yet. */
  private uploaded = 0;
  /** Recordings finished (their slots uploaded) but not yet submitted or discarded. */
  private held = 0;

  constructor(
    private readonly device: GPUDevice,
    readonly capacity: number,
    private readonly align: number,
  ) {
    this.buffer = device.createBuffer({ size: capacity, usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST, label: 'uniform-ring' });
    this.mirror = new ArrayBuffer(capacity);
    this.f32 = new Float32Array(this.mirror);
    this.u32 = new Uint32Array(this.mirror);
    this.i32 = new Int32Array(this.mirror);
  }

  /** Pack params into the next slot and return its byte offset. */
  write(kernel: Kernel, params: Record<string, number>, recorder: Recorder): number {
    const layout = kernel.params!;
    if (this.cursor + layout.size > this.capacity) recorder.flushAndContinue();
    const offset = this.cursor;
    for (const m of layout.members) {
      const v = params[m.name];
      if (v === undefined) throw new AtelierGpuError('usage', `kernel ${kernel.name}: params.${m.name} is missing`);
      const word = (offset + m.offset) >> 2;
      if (m.type === 'f32') this.f32[word] = v;
      else if (m.type === 'u32') this.u32[word] = v >>> 0;
      else this.i32[word] = v | 0;
    }
    this.cursor = Math.ceil((offset + layout.size) / this.align) * this.align;
    return offset;
  }

  /** Upload the slots written since the last flush; rewind when no finished recording needs the ring. */
  flush(): void {
    if (this.cursor > this.uploaded) this.device.queue.writeBuffer(this.buffer, this.uploaded, this.mirror, this.uploaded, this.cursor - this.uploaded);
    this.uploaded = this.cursor;
    if (this.held === 0) this.cursor = this.uploaded = 0;
  }

  /** A recording finished: its slots must stay as uploaded until it is submitted or discarded. */
  hold(): void {
    this.held++;
  }

  /** A finished recording was submitted or discarded. */
  release(): void {
    this.held--;
    if (this.held === 0) this.cursor = this.uploaded = 0;
  }

  /** Recordings finished but not yet submitted or discarded. */
  get holds(): number {
    return this.held;
  }
}

let bufferIds = new WeakMap<GPUBuffer, number>();
let nextBufferId = 1;
function bufferId(b: GPUBuffer): number {
  let id = bufferIds.get(b);
  if (id === undefined) bufferIds.set(b, (id = nextBufferId++));
  return id;
}

/**
 * Bind groups cached by kernel and bound buffers, so a decode loop that reuses its buffers creates
 * no bind groups after the first step. Cleared when the pool destroys buffers.
 */
export class BindGroupCache {
  private readonly cache = new Map<string, GPUBindGroup>();
  private hits = 0;
  private misses = 0;

  constructor(
    private readonly device: GPUDevice,
    private readonly ring: UniformRing,
    private readonly maxEntries = 8192,
  ) {}

  get(kernel: Kernel, bindings: Record<string, BindingResource>): GPUBindGroup {
    const resolved: { binding: number; buffer: GPUBuffer; offset: number; size?: number }[] = [];
    let key = `${kernel.id}`;
    for (const info of kernel.bindings.values()) {
      const r = bindings[info.name];
      if (r === undefined) {
        throw new AtelierGpuError('usage', `kernel ${kernel.name}: binding '${info.name}' was not given (needs ${[...kernel.bindings.keys()].join(', ')})`);
      }
      const { buffer, offset, size } = resolve(r);
      resolved.push({ binding: info.binding, buffer, offset, size });
      key += `|${bufferId(buffer)}:${offset}:${size ?? '*'}`;
    }
    for (const name of Object.keys(bindings)) {
      if (!kernel.bindings.has(name)) throw new AtelierGpuError('usage', `kernel ${kernel.name} has no binding '${name}'`);
    }
    const hit = this.cache.get(key);
    if (hit) {
      this.hits++;
      return hit;
    }
    this.misses++;
    const entries: GPUBindGroupEntry[] = resolved.map((r) => ({ binding: r.binding, resource: { buffer: r.buffer, offset: r.offset, size: r.size } }));
    if (kernel.params) entries.push({ binding: kernel.params.binding, resource: { buffer: this.ring.buffer, offset: 0, size: kernel.params.size } });
    const group = this.device.createBindGroup({ layout: kernel.bindGroupLayout, entries, label: kernel.name });
    if (this.cache.size >= this.maxEntries) this.cache.clear();
    this.cache.set(key, group);
    return group;
  }

  clear(): void {
    this.cache.clear();
    bufferIds = new WeakMap();
    nextBufferId = 1;
  }

  getStats() {
    return { hits: this.hits, misses: this.misses, entries: this.cache.size };
  }
}

function resolve(r: BindingResource): { buffer: GPUBuffer; offset: number; size?: number } {
  if (r instanceof Tensor) return { buffer: r.buffer, offset: 0, size: Math.max(4, Math.ceil(r.byteLength / 4) * 4) };
  if ('buffer' in r && !('mapState' in r)) return { buffer: r.buffer, offset: r.offset ?? 0, size: r.size };
  return { buffer: r as GPUBuffer, offset: 0 };
}
