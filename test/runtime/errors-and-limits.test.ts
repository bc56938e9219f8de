import { describe, expect, it } from 'vitest';
import { fileKernelSource } from '../../src/node/gpu.ts';
import { f16BitsToF32, f32ToF16Bits } from '../../src/runtime/dtype.ts';
import { AtelierGpuError } from '../../src/runtime/errors.ts';
import { GpuContext } from '../../src/runtime/gpu.ts';
import { binary } from '../../src/runtime/ops/elementwise.ts';
import type { Tensor } from '../../src/runtime/tensor.ts';
import { randomArray, useGpu } from '../helpers/gpu.ts';

async function gpuError(p: Promise<unknown> | (() => unknown)): Promise<AtelierGpuError> {
  try {
    await (typeof p === 'function' ? p() : p);
  } catch (e) {
    expect(e).toBeInstanceOf(AtelierGpuError);
    return e as AtelierGpuError;
  }
  throw new Error('expected an AtelierGpuError, nothing was thrown');
}

describe('device acquisition errors', () => {
  it("reports 'no-webgpu' when there is no navigator.gpu", async () => {
    const err = await gpuError(GpuContext.create({ gpu: undefined, kernelSource: fileKernelSource() }));
    expect(err.kind).toBe('no-webgpu');
    expect(err.message).toMatch(/WebGPU is not available/);
  });

  it("reports 'no-adapter' when the GPU offers no adapter", async () => {
    const noAdapter = { requestAdapter: async () => null } as unknown as GPU;
    const err = await gpuError(GpuContext.create({ gpu: noAdapter, kernelSource: fileKernelSource() }));
    expect(err.kind).toBe('no-adapter');
    expect(err.message).toMatch(/No WebGPU adapter was found.*lavapipe/);
  });
});

describe('tensors and dispatches on a real device', () => {
  const gpu = useGpu();

  it("refuses a tensor over maxStorageBufferBindingSize with 'too-large', before allocating", async () => {
    const ctx = gpu();
    const limit = Math.min(ctx.limits.maxStorageBufferBindingSize, ctx.limits.maxBufferSize);
    const created = ctx.storagePool.getStats().created;
    const err = await gpuError(() => ctx.empty([limit / 4 + 1], 'f32', 'huge'));
    expect(err.kind).toBe('too-large');
    expect(err.message).toMatch(/tensor huge\[\d+\] f32 needs [\d.]+ MiB, over this device's limit of [\d.]+ MiB per storage buffer \(maxStorageBufferBindingSize\)/);
    expect(ctx.storagePool.getStats().created).toBe(created);
  });

  it('round-trips f16 tensors (values rounded to the nearest f16)', async (test) => {
    const ctx = gpu();
    if (!ctx.features.f16) test.skip('this adapter lacks shader-f16, which f16 tensors need');
    const values = [0, 1, -2.5, 65504, 1e-7, 3.14159, -0.1, 6.1e-5, 12345.678];
    const t = ctx.tensor(values, [3, 3], 'f16');
    expect(t.byteLength).toBe(18);
    expect(Array.from(await t.read())).toEqual(values.map((v) => f16BitsToF32(f32ToF16Bits(v))));
    const odd = ctx.tensor([1.5, -3, 7], [3], 'f16'); // 6 bytes: the upload pads to 4-byte multiples
    expect(Array.from(await odd.read())).toEqual([1.5, -3, 7]);
    t.dispose();
    odd.dispose();
  });

  it('names the kernel and the member when params are missing', () => {
    const ctx = gpu();
    const kernel = ctx.kernels.get({ file: 'elementwise', entry: 'unary', includes: ['activation'], defines: { ACT: 1, OP: 0 } });
    const a = ctx.zeros([4]);
    const out = ctx.zeros([4]);
    const rec = ctx.recorder('missing-params');
    expect(() => rec.dispatch(kernel, { a, out }, { n: 4 }, [1])).toThrow(/kernel elementwise:unary\|ACT=1,OP=0\|\|\+activation: params\.d1 is missing/);
    expect(() => rec.dispatch(kernel, { a, out }, null, [1])).toThrow(/kernel elementwise:unary.* needs params \{n, d1, d2/);
    rec.submit();
    a.dispose();
    out.dispose();
  });
});

describe('uniform ring overflow', () => {
  // 512 bytes hold two 256-byte parameter slots: a recording of 40 dispatches submits and continues
  // about every other dispatch, and the chained results must still come out right.
  const gpu = useGpu({ uniformRingBytes: 512 });

  it('computes a long chain of dispatches correctly through many ring flushes', async () => {
    const ctx = gpu();
    expect(ctx.uniforms.capacity).toBe(512);
    const n = 300;
    const start = randomArray(n, 3);
    const step = randomArray(n, 4);
    let acc = ctx.tensor(start, [n]);
    const inc = ctx.tensor(step, [n]);
    const rec = ctx.recorder('ring-overflow');
    const links = 40;
    const dead: Tensor[] = [];
    for (let i = 0; i < links; i++) {
      const next = binary(rec, i % 2 ? 'add' : 'sub', acc, inc);
      dead.push(acc);
      acc = next;
    }
    rec.submit();
    for (const t of dead) t.dispose();
    // add and sub alternate, starting with sub: 20 of each cancel out
    const got = await acc.read();
    for (let i = 0; i < n; i++) expect(got[i]).toBeCloseTo(start[i], 5);
    acc.dispose();
    inc.dispose();
  });
});

describe('recordings finished ahead of their submission', () => {
  const gpu = useGpu();

  it('keep their kernel parameters while a later recording is made, and take inputs written after finishing', async () => {
    const ctx = gpu();
    const n = 64;
    const a = ctx.tensor(randomArray(n, 5), [n]);
    const b = ctx.tensor(randomArray(n, 6), [n]);
    // First: a + b (add). Second, recorded and finished before the first is submitted: (a + b) * b.
    const first = ctx.recorder('ahead-1');
    const sum = binary(first, 'add', a, b);
    first.finish();
    const second = ctx.recorder('ahead-2');
    const product = binary(second, 'mul', sum, b);
    second.finish();
    // An input written after both finished lands before either runs.
    const late = randomArray(n, 7);
    ctx.write(b, late);
    first.submit();
    second.submit();
    const aHost = await a.read();
    const got = await product.read();
    for (let i = 0; i < n; i++) expect(got[i]).toBeCloseTo((aHost[i] + late[i]) * late[i], 5);
    for (const t of [a, b, sum, product]) t.dispose();
  });

  it('a discarded recording releases what it held', async () => {
    const ctx = gpu();
    const x = ctx.tensor(randomArray(8, 8), [8]);
    const rec = ctx.recorder('discarded');
    const y = binary(rec, 'add', x, x);
    rec.finish();
    rec.discard();
    expect(ctx.uniforms.holds).toBe(0);
    expect(() => rec.submit()).toThrow(/already submitted or discarded/);
    for (const t of [x, y]) t.dispose();
  });
});

describe('reads recorded into a recording', () => {
  const gpu = useGpu();

  it('read the tensor after the recording ran, once; a discarded one gives its staging back', async () => {
    const ctx = gpu();
    const data = randomArray(10, 9);
    const x = ctx.tensor(data, [10]);
    const rec = ctx.recorder('read-after');
    const y = binary(rec, 'add', x, x);
    const pending = ctx.readAfter(rec, y);
    rec.submit();
    const got = await pending.read();
    for (let i = 0; i < 10; i++) expect(got[i]).toBeCloseTo(2 * data[i], 6);
    await expect(pending.read()).rejects.toThrow(/already used/);
    const dropped = ctx.recorder('read-after-dropped');
    const unused = ctx.readAfter(dropped, y);
    dropped.discard();
    unused.release();
    unused.release(); // a second release gives nothing back twice
    await expect(unused.read()).rejects.toThrow(/already used/);
    for (const t of [x, y]) t.dispose();
  });
});
