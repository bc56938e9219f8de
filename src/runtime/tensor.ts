import { BYTES_PER_ELEMENT, shapeSize, type DType } from './dtype.ts';
import type { GpuContext } from './gpu.ts';

/**
 * A dense, row-major array in one GPU storage buffer. The tensor owns its buffer until dispose(),
 * which hands the buffer back to the context's pool; using a disposed tensor is an error.
 * `buffer` may be larger than `byteLength` (pool size classes): kernels are always told the shape.
 */
export class Tensor {
  readonly shape: readonly number[];
  readonly dtype: DType;
  readonly size: number;
  readonly byteLength: number;
  private _buffer: GPUBuffer | null;

  constructor(
    readonly ctx: GpuContext,
    buffer: GPUBuffer,
    shape: readonly number[],
    dtype: DType,
    private readonly pooled: boolean,
    readonly label = '',
  ) {
    this.shape = [...shape];
    this.dtype = dtype;
    this.size = shapeSize(shape);
    this.byteLength = this.size * BYTES_PER_ELEMENT[dtype];
    this._buffer = buffer;
  }

  get buffer(): GPUBuffer {
    if (!this._buffer) throw new Error(`tensor ${this.label || `[${this.shape.join('x')}]`} was used after dispose()`);
    return this._buffer;
  }

  get disposed(): boolean {
    return this._buffer === null;
  }

  /** Size of dimension i; negative i counts from the end. */
  dim(i: number): number {
    return this.shape[i < 0 ? this.shape.length + i : i];
  }

  /** Copy to the host. f16 is widened to f32. */
  read(): Promise<Float32Array | Uint32Array | Int32Array> {
    return this.ctx.read(this);
  }

  /** Same buffer, new shape with the same element count (no copy). The view does not own the buffer. */
  reshape(shape: readonly number[]): Tensor {
    if (shapeSize(shape) !== this.size) {
      throw new Error(`cannot reshape [${this.shape.join(', ')}] to [${shape.join(', ')}]`);
    }
    return new Tensor(this.ctx, this.buffer, shape, this.dtype, false, this.label);
  }

  dispose(): void {
    if (!this._buffer) return;
    if (this.pooled) this.ctx.storagePool.release(this._buffer);
    this._buffer = null;
  }
}
