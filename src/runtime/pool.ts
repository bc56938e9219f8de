/**
 * Size-class buffer pool. Storage buffers are rounded up to a class (powers of two and 1.5x steps,
 * from 256 bytes) and recycled on release, so a decode loop that allocates and frees the same
 * shapes every step creates no new GPU buffers after the first step.
 */
export interface PoolStats {
  /** GPU buffers ever created by this pool. */
  created: number;
  /** acquire() calls served from a free list. */
  reused: number;
  /** Buffers currently handed out. */
  live: number;
  /** Bytes held by the pool, live and free. */
  bytesHeld: number;
}

const MIN_CLASS = 256;

export function sizeClass(bytes: number): number {
  if (bytes <= MIN_CLASS) return MIN_CLASS;
  const pow = 2 ** Math.ceil(Math.log2(bytes));
  const threeQuarter = (pow / 4) * 3; // the 1.5 * 2^(k-1) step between powers of two
  return bytes <= threeQuarter ? threeQuarter : pow;
}

export class BufferPool {
  private readonly free = new Map<number, GPUBuffer[]>();
  private readonly sizes = new WeakMap<GPUBuffer, number>();
  private stats: PoolStats = { created: 0, reused: 0, live: 0, bytesHeld: 0 };
  /** Called when buffers are destroyed, so caches keyed by buffer (bind groups) can drop them. */
  onDestroy: (() => void) | null = null;

  constructor(
    private readonly device: GPUDevice,
    private readonly usage: GPUBufferUsageFlags,
    private readonly label: string,
  ) {}

  acquire(bytes: number): GPUBuffer {
    const size = sizeClass(bytes);
    const list = this.free.get(size);
    this.stats.live++;
    if (list && list.length > 0) {
      this.stats.reused++;
      return list.pop()!;
    }
    const buffer = this.device.createBuffer({ size, usage: this.usage, label: `${this.label}:${size}` });
    this.sizes.set(buffer, size);
    this.stats.created++;
    this.stats.bytesHeld += size;
    return buffer;
  }

  release(buffer: GPUBuffer): void {
    const size = this.sizes.get(buffer);
    if (size === undefined) throw new Error(`buffer ${buffer.label} does not belong to pool ${this.label}`);
    let list = this.free.get(size);
    if (!list) this.free.set(size, (list = []));
    list.push(buffer);
    this.stats.live--;
  }

  /** Destroy every free buffer (live ones stay with their owners). */
  trim(): void {
    for (const list of this.free.values()) {
      for (const b of list) {
        this.stats.bytesHeld -= this.sizes.get(b)!;
        b.destroy();
      }
    }
    this.free.clear();
    this.onDestroy?.();
  }

  getStats(): PoolStats {
    return { ...this.stats };
  }
}
