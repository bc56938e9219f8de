/**
 * The engine's public surface. Browser-safe: nothing here imports `node:*`.
 * Node code creates a context with `createNodeContext()` from src/node/gpu.ts; a page passes
 * `navigator.gpu` and a bundled kernel loader to `GpuContext.create()`.
 */
export { GpuContext, type GpuContextOptions, type Features, type AdapterDescription } from './gpu.ts';
export { Tensor } from './tensor.ts';
export { Recorder, type BindingResource, type Workgroups } from './recorder.ts';
export { KernelLibrary, specialiseSource, type Kernel, type KernelSpec, type KernelSourceLoader, type Defines } from './kernels.ts';
export { BufferPool, sizeClass, type PoolStats } from './pool.ts';
export { AtelierGpuError, type GpuErrorKind } from './errors.ts';
export { type DType, BYTES_PER_ELEMENT, f32ToF16Bits, f16BitsToF32, toF16Array, fromF16Array, shapeSize } from './dtype.ts';
export { type KernelTiming } from './timer.ts';
