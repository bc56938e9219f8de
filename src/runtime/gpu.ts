import { BYTES_PER_ELEMENT, fromF16Array, shapeSize, toF16Array, type DType, type HostArray } from './dtype.ts';
import { AtelierGpuError } from './errors.ts';
import { KernelLibrary, type KernelSourceLoader } from './kernels.ts';
import { BufferPool } from './pool.ts';
import { BindGroupCache, Recorder, UniformRing } from './recorder.ts';
import { Tensor } from './tensor.ts';
import { GpuTimer } from './timer.ts';

export interface GpuContextOptions {
  /** `navigator.gpu` in a browser, the `webgpu` package's `create()` in Node. */
  gpu: GPU | undefined;
  /** Reads `kernels/<name>.wgsl`. */
  kernelSource: KernelSourceLoader;
  powerPreference?: GPUPowerPreference;
  /** Turn optional features off, e.g. to test the paths that run without subgroups or f16. */
  disable?: Partial<Record<'subgroups' | 'f16' | 'timestamps', boolean>>;
  /** Byte size of the shared uniform ring (default 4 MiB). */
  uniformRingBytes?: number;
}

export interface Features {
  subgroups: boolean;
  f16: boolean;
  timestamps: boolean;
  /** Subgroup size range reported by the adapter (0 when unknown). */
  subgroupMinSize: number;
  subgroupMaxSize: number;
}

export interface AdapterDescription {
  vendor: string;
  architecture: string;
  device: string;
  description: string;
  /** One line for logs and reports. */
  name: string;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** A readback recorded into a recording (GpuContext.readAfter). */
export interface PendingRead {
  read(): Promise<Float32Array | Uint32Array | Int32Array>;
  /** Give the staging buffer back if it was not read (the recording was discarded, or an error cut the loop short). */
  release(): void;
}

/** The tensor's elements in the bytes read back (f16 widened to f32). */
function typedView(t: Tensor, raw: ArrayBuffer): Float32Array | Uint32Array | Int32Array {
  if (t.dtype === 'f16') return fromF16Array(new Uint16Array(raw, 0, t.size));
  if (t.dtype === 'u32') return new Uint32Array(raw, 0, t.size);
  if (t.dtype === 'i32') return new Int32Array(raw, 0, t.size);
  return new Float32Array(raw, 0, t.size);
}

/**
 * The engine's handle on one GPU device: limits, optional features, the buffer pool, the kernel
 * library, the uniform ring, and the only place that waits for the GPU.
 *
 * Waiting: Dawn in Node polls a CPU core while a completion promise is pending, and on a software
 * adapter (lavapipe) that core is the GPU. So every wait first sleeps for most of the time the same
 * kind of work took before (an exponential moving average per recorder label), and only then awaits
 * the completion promise, which by then resolves almost at once.
 */
export class GpuContext {
  readonly storagePool: BufferPool;
  readonly readPool: BufferPool;
  /** Staging buffers for uploads made while a recorder is open (see write()). */
  private readonly uploadPool: BufferPool;
  readonly kernels: KernelLibrary;
  readonly uniforms: UniformRing;
  readonly bindGroups: BindGroupCache;
  timer: GpuTimer | null = null;
  /**
   * When true, recorders drop every dispatch (copies and uploads still run; new tensors start as
   * zeros, so readbacks return zeros). Kernels are still requested, so a run in this mode lists
   * the pipelines a piece of work needs without running them: ahead-of-time compilation plans
   * itself this way (src/node/warmup.ts). Never set while results matter.
   */
  skipDispatches = false;
  private lostInfo: GPUDeviceLostInfo | null = null;
  private readonly lostPromise: Promise<GPUDeviceLostInfo>;
  private pendingError: Error | null = null;
  private openRecorder: Recorder | null = null;
  private lastSubmit = { label: '', time: 0, settled: true };
  private readonly expectedMs = new Map<string, number>();
  private destroyed = false;

  private constructor(
    readonly device: GPUDevice,
    readonly adapter: AdapterDescription,
    readonly features: Features,
    readonly limits: GPUSupportedLimits,
    kernelSource: KernelSourceLoader,
    ringBytes: number,
  ) {
    this.storagePool = new BufferPool(device, GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST, 'tensor');
    this.readPool = new BufferPool(device, GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST, 'readback');
    this.uploadPool = new BufferPool(device, GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST, 'upload');
    this.kernels = new KernelLibrary(device, kernelSource);
    this.uniforms = new UniformRing(device, ringBytes, limits.minUniformBufferOffsetAlignment);
    this.bindGroups = new BindGroupCache(device, this.uniforms);
    this.storagePool.onDestroy = () => this.bindGroups.clear();
    this.lostPromise = device.lost.then((info) => (this.lostInfo = info));
    device.addEventListener('uncapturederror', (ev) => {
      const err = (ev as GPUUncapturedErrorEvent).error;
      const kind = err instanceof GPUOutOfMemoryError ? 'out-of-memory' : 'validation';
      this.pendingError ??= new AtelierGpuError(kind, `GPU ${kind} error (after '${this.lastSubmit.label}'): ${err.message}`);
    });
  }

  static async create(options: GpuContextOptions): Promise<GpuContext> {
    if (!options.gpu) {
      throw new AtelierGpuError('no-webgpu', 'WebGPU is not available here (no navigator.gpu). In Chrome enable it (chrome://flags/#enable-unsafe-webgpu); in Node install the `webgpu` package.');
    }
    const adapter = await options.gpu.requestAdapter({ powerPreference: options.powerPreference ?? 'high-performance' });
    if (!adapter) {
      throw new AtelierGpuError('no-adapter', 'No WebGPU adapter was found. Without a GPU, install a Vulkan software driver (Mesa lavapipe 25 or newer; on Debian 12: apt-get install -t bookworm-backports mesa-vulkan-drivers) or run `npm run setup:gpu`.');
    }
    const off = options.disable ?? {};
    const want: GPUFeatureName[] = [];
    const has = (f: string) => adapter.features.has(f);
    if (has('subgroups') && !off.subgroups) want.push('subgroups' as GPUFeatureName);
    if (has('shader-f16') && !off.f16) want.push('shader-f16');
    if (has('timestamp-query') && !off.timestamps) want.push('timestamp-query');
    const al = adapter.limits;
    const requiredLimits: Record<string, number> = {
      maxBufferSize: al.maxBufferSize,
      maxStorageBufferBindingSize: al.maxStorageBufferBindingSize,
      maxComputeWorkgroupStorageSize: al.maxComputeWorkgroupStorageSize,
      maxComputeInvocationsPerWorkgroup: al.maxComputeInvocationsPerWorkgroup,
      maxComputeWorkgroupSizeX: al.maxComputeWorkgroupSizeX,
      maxComputeWorkgroupSizeY: al.maxComputeWorkgroupSizeY,
      maxStorageBuffersPerShaderStage: al.maxStorageBuffersPerShaderStage,
      maxComputeWorkgroupsPerDimension: al.maxComputeWorkgroupsPerDimension,
    };
    let device: GPUDevice;
    try {
      device = await adapter.requestDevice({ requiredFeatures: want, requiredLimits, label: 'atelier' });
    } catch (e) {
      throw new AtelierGpuError('no-adapter', `The WebGPU adapter refused a device: ${(e as Error).message}`);
    }
    const info = adapter.info ?? ({} as GPUAdapterInfo);
    const description: AdapterDescription = {
      vendor: info.vendor ?? '',
      architecture: info.architecture ?? '',
      device: info.device ?? '',
      description: info.description ?? '',
      name: [info.vendor, info.architecture, info.device, info.description].filter(Boolean).join(' / ') || 'unknown adapter',
    };
    const sg = info as unknown as { subgroupMinSize?: number; subgroupMaxSize?: number };
    const features: Features = {
      subgroups: device.features.has('subgroups'),
      f16: device.features.has('shader-f16'),
      timestamps: device.features.has('timestamp-query'),
      subgroupMinSize: sg.subgroupMinSize ?? 0,
      subgroupMaxSize: sg.subgroupMaxSize ?? 0,
    };
    return new GpuContext(device, description, features, device.limits, options.kernelSource, options.uniformRingBytes ?? 4 << 20);
  }

  // ---- tensors ----------------------------------------------------------------------------

  /** An uninitialised tensor from the pool. */
  empty(shape: readonly number[], dtype: DType = 'f32', label = ''): Tensor {
    const bytes = shapeSize(shape) * BYTES_PER_ELEMENT[dtype];
    this.checkSize(bytes, shape, dtype, label);
    if (dtype === 'f16' && !this.features.f16) throw new AtelierGpuError('usage', `tensor ${label}: f16 needs the adapter feature shader-f16, which this device lacks`);
    const t = new Tensor(this, this.storagePool.acquire(Math.max(4, bytes)), shape, dtype, true, label);
    // No kernel writes it while dispatches are skipped: zeros, not a recycled buffer's old values
    // (token ids read back from it must stay in range).
    if (this.skipDispatches) this.clearTensor(t);
    return t;
  }

  private clearTensor(t: Tensor): void {
    const bytes = Math.ceil(t.byteLength / 4) * 4;
    if (bytes === 0) return;
    // Inside an open recorder, clear in recording order (the buffer may be one that earlier
    // recorded dispatches still read); otherwise a queue write is cheapest.
    if (this.openRecorder) this.openRecorder.rawEncoder().clearBuffer(t.buffer, 0, bytes);
    else this.device.queue.writeBuffer(t.buffer, 0, new ArrayBuffer(bytes));
  }

  /** A tensor filled with zeros. */
  zeros(shape: readonly number[], dtype: DType = 'f32', label = ''): Tensor {
    const t = this.empty(shape, dtype, label);
    if (!this.skipDispatches) this.clearTensor(t);
    return t;
  }

  /** Upload host data. For f16, pass f32 values (converted here) or raw Uint16Array bits. */
  tensor(data: HostArray | number[], shape: readonly number[], dtype: DType = 'f32', label = ''): Tensor {
    const n = shapeSize(shape);
    if (data.length !== n) throw new AtelierGpuError('usage', `tensor ${label}: ${data.length} values given for shape [${shape.join(', ')}] (${n} elements)`);
    const t = this.empty(shape, dtype, label);
    this.write(t, data);
    return t;
  }

  /** Overwrite a tensor's contents from the host. */
  write(t: Tensor, data: HostArray | number[], elementOffset = 0): void {
    let bytes: ArrayBufferView;
    if (t.dtype === 'f16') bytes = data instanceof Uint16Array ? data : toF16Array(data);
    else if (t.dtype === 'u32') bytes = data instanceof Uint32Array ? data : Uint32Array.from(data as ArrayLike<number>);
    else if (t.dtype === 'i32') bytes = data instanceof Int32Array ? data : Int32Array.from(data as ArrayLike<number>);
    else bytes = data instanceof Float32Array ? data : Float32Array.from(data as ArrayLike<number>);
    const byteOffset = elementOffset * BYTES_PER_ELEMENT[t.dtype];
    let len = bytes.byteLength;
    if (byteOffset + len > t.byteLength + 3) throw new AtelierGpuError('usage', `write past the end of tensor ${t.label}`);
    if (len % 4 !== 0) {
      // writeBuffer needs a multiple of 4 bytes: pad one f16 element.
      const padded = new Uint8Array(len + 2);
      padded.set(new Uint8Array(bytes.buffer, bytes.byteOffset, len));
      bytes = padded;
      len += 2;
    }
    const rec = this.openRecorder;
    if (!rec) {
      this.device.queue.writeBuffer(t.buffer, byteOffset, bytes.buffer, bytes.byteOffset, len);
      return;
    }
    // A recorder is open: queue.writeBuffer would land before every dispatch recorded so far, and
    // the pool may have handed `t` a buffer those dispatches still read. Stage the bytes and record
    // a copy instead, so the write happens in recording order.
    const staging = this.uploadPool.acquire(len);
    this.device.queue.writeBuffer(staging, 0, bytes.buffer, bytes.byteOffset, len);
    rec.copy(staging, 0, t.buffer, byteOffset, len);
    rec.onSubmitted(() => this.uploadPool.release(staging));
  }

  /** Read a tensor back to the host (f16 widened to f32). */
  async read(t: Tensor): Promise<Float32Array | Uint32Array | Int32Array> {
    return typedView(t, await this.readBytes(t.buffer, 0, t.byteLength));
  }

  /** Copy bytes of any storage buffer to the host, waiting without spinning. */
  async readBytes(buffer: GPUBuffer, offset: number, bytes: number): Promise<ArrayBuffer> {
    const size = Math.max(4, Math.ceil(bytes / 4) * 4);
    const staging = this.readPool.acquire(size);
    const enc = this.device.createCommandEncoder({ label: 'readback' });
    enc.copyBufferToBuffer(buffer, offset, staging, 0, size);
    // The copy is tiny: the wait is for the work submitted before it, so that work's label and
    // submit time (lastSubmit) must size the sleep, not a 'readback' label whose duration would
    // depend on whatever happened to be queued ahead of it.
    if (this.lostInfo) throw this.lostError();
    this.device.queue.submit([enc.finish()]);
    return this.mapStaging(staging, size);
  }

  /**
   * Record the copy of `t` to a staging buffer at the end of `rec`, so reading it back needs no
   * command buffer of its own (a decode step reads its token this way). Call `read()` once the
   * recording is submitted, or `release()` if it never will be.
   */
  readAfter(rec: Recorder, t: Tensor): PendingRead {
    const size = Math.max(4, Math.ceil(t.byteLength / 4) * 4);
    const staging = this.readPool.acquire(size);
    rec.copy(t.buffer, 0, staging, 0, size);
    let done = false;
    const finish = () => {
      if (done) throw new AtelierGpuError('usage', `the pending read of ${t.label || 'a tensor'} was already used`);
      done = true;
    };
    return {
      read: async () => {
        finish();
        return typedView(t, await this.mapStaging(staging, size));
      },
      release: () => {
        if (done) return;
        done = true;
        this.readPool.release(staging);
      },
    };
  }

  /** One wait, on the mapping (it completes after the copy, so after the work before it). */
  private async mapStaging(staging: GPUBuffer, size: number): Promise<ArrayBuffer> {
    // A separate onSubmittedWorkDone first would add a second round of Dawn's polling per readback.
    await this.settle(undefined, () => staging.mapAsync(GPUMapMode.READ, 0, size));
    const out = staging.getMappedRange(0, size).slice(0);
    staging.unmap();
    this.readPool.release(staging);
    this.throwPending();
    return out;
  }

  // ---- recording and waiting --------------------------------------------------------------

  /** Start recording a batch of dispatches (a forward pass, a decode step) into one pass. */
  recorder(label: string): Recorder {
    if (this.destroyed) throw new AtelierGpuError('device-lost', 'the GPU context was destroyed');
    if (this.openRecorder) throw new AtelierGpuError('usage', `recorder '${label}' opened while '${this.openRecorder.label}' is still recording`);
    const rec = new Recorder(this, label);
    this.openRecorder = rec;
    return rec;
  }

  /** Called by Recorder.finish: uploads no longer need staging, another recorder may open. */
  closeRecorder(rec: Recorder): void {
    if (this.openRecorder === rec) this.openRecorder = null;
  }

  /** Called by Recorder.submit (and flushAndContinue). */
  submit(commands: GPUCommandBuffer, label: string): void {
    if (this.lostInfo) throw this.lostError();
    this.device.queue.submit([commands]);
    this.lastSubmit = { label, time: performance.now(), settled: false };
  }

  /**
   * Wait until all submitted work is done. Sleeps for the expected duration of the last
   * submitted label first (see class comment); `expectedMs` overrides the estimate. `done` is what
   * to await after the sleep (default: the queue's onSubmittedWorkDone), e.g. a mapping that
   * completes only after the work.
   */
  async settle(expectedMs?: number, done: () => Promise<unknown> = () => this.device.queue.onSubmittedWorkDone()): Promise<void> {
    const last = this.lastSubmit;
    if (last.settled) {
      // Nothing but readback copies since the last wait: nothing to sleep for or to learn from.
      await this.guard(done());
      this.throwPending();
      return;
    }
    const { label, time } = last;
    const prev = this.expectedMs.get(label);
    const remaining = (expectedMs ?? prev ?? 0) * 0.85 - (performance.now() - time);
    if (remaining > 1) await sleep(remaining);
    const woke = performance.now();
    await this.guard(done());
    const now = performance.now();
    last.settled = true;
    // Done before the sleep ended: `now - time` is then our own sleep, an upper bound on the work.
    // Halve the estimate instead of averaging it in, or one slow run under a label (a first
    // compile, a larger input) would keep later waits oversleeping, decaying only ~5% per wait.
    // A wait much longer than expected (another process took the cores) moves the estimate by at
    // most 1.3x: an oversleep costs the whole excess, an undersleep only some polling.
    const doneBeforeWaking = remaining > 1 && now - woke < 1;
    const took = now - time;
    this.expectedMs.set(label, prev === undefined ? took : doneBeforeWaking ? prev * 0.5 : prev * 0.7 + Math.min(took, 2 * prev) * 0.3);
    this.throwPending();
  }

  private async guard<T>(p: Promise<T>): Promise<T> {
    const lost = this.lostPromise.then(() => {
      throw this.lostError();
    });
    return Promise.race([p, lost]);
  }

  private lostError(): AtelierGpuError {
    const info = this.lostInfo;
    return new AtelierGpuError('device-lost', `the GPU device was lost${info ? ` (${info.reason}): ${info.message}` : ''}`);
  }

  private throwPending(): void {
    const err = this.pendingError;
    if (err) {
      this.pendingError = null;
      throw err;
    }
  }

  private checkSize(bytes: number, shape: readonly number[], dtype: DType, label: string): void {
    const limit = Math.min(this.limits.maxStorageBufferBindingSize, this.limits.maxBufferSize);
    if (bytes > limit) {
      const mib = (b: number) => (b / 2 ** 20).toFixed(1);
      throw new AtelierGpuError(
        'too-large',
        `tensor ${label || ''}[${shape.join('x')}] ${dtype} needs ${mib(bytes)} MiB, over this device's limit of ${mib(limit)} MiB per storage buffer (maxStorageBufferBindingSize); use a smaller batch or split the tensor`,
      );
    }
  }

  // ---- profiling and shutdown -------------------------------------------------------------

  /** Per-dispatch GPU timing (timestamp-query). Each dispatch then gets its own pass, so use it to profile, not to run. */
  enableProfiling(capacity = 4096): boolean {
    if (!this.features.timestamps) return false;
    this.timer ??= new GpuTimer(this, capacity);
    return true;
  }

  disableProfiling(): void {
    this.timer?.destroy();
    this.timer = null;
  }

  get isLost(): boolean {
    return this.lostInfo !== null;
  }

  /** Release the device. Always call before the process exits (Dawn in Node can crash at exit otherwise). */
  destroy(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    this.timer?.destroy();
    this.storagePool.trim();
    this.readPool.trim();
    this.uploadPool.trim();
    this.device.destroy();
  }
}
