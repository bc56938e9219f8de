/** CPU references (float64) for kernels/layout.wgsl. */

const product = (dims: readonly number[]) => dims.reduce((p, d) => p * d, 1);

/** x[..., start : start + length, ...] along `axis` of `shape`. */
export function sliceRef(x: ArrayLike<number>, shape: readonly number[], axis: number, start: number, length: number): Float64Array {
  const outer = product(shape.slice(0, axis));
  const inner = product(shape.slice(axis + 1));
  const out = new Float64Array(outer * length * inner);
  for (let o = 0; o < outer; o++) {
    for (let j = 0; j < length; j++) {
      for (let i = 0; i < inner; i++) out[(o * length + j) * inner + i] = x[(o * shape[axis] + start + j) * inner + i];
    }
  }
  return out;
}

/** Inputs of shapes `shapes` joined along `axis`. */
export function concatRef(xs: ArrayLike<number>[], shapes: readonly (readonly number[])[], axis: number): Float64Array {
  const outer = product(shapes[0].slice(0, axis));
  const inner = product(shapes[0].slice(axis + 1));
  const total = shapes.reduce((s, sh) => s + sh[axis], 0);
  const out = new Float64Array(outer * total * inner);
  let offset = 0;
  xs.forEach((x, k) => {
    const len = shapes[k][axis];
    for (let o = 0; o < outer; o++) {
      for (let j = 0; j < len; j++) {
        for (let i = 0; i < inner; i++) out[(o * total + offset + j) * inner + i] = x[(o * len + j) * inner + i];
      }
    }
    offset += len;
  });
  return out;
}

/** x [batch, rows, cols] -> [batch, cols, rows]. */
export function transposeRef(x: ArrayLike<number>, batch: number, rows: number, cols: number): Float64Array {
  const out = new Float64Array(batch * rows * cols);
  for (let b = 0; b < batch; b++) {
    for (let r = 0; r < rows; r++) {
      for (let c = 0; c < cols; c++) out[(b * cols + c) * rows + r] = x[(b * rows + r) * cols + c];
    }
  }
  return out;
}
