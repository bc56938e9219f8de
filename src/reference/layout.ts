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

/** splitHeads: x [batch, srcSeq, width], heads of headDim columns from colOff -> [B, H, seqPad, dh] or [B, H, dh, seqPad]. */
export function splitHeadsRef(x: ArrayLike<number>, o: { batch: number; srcSeq: number; width: number; colOff: number; heads: number; headDim: number; seq: number; seqPad: number; transposed: boolean }): Float64Array {
  const out = new Float64Array(o.batch * o.heads * o.seqPad * o.headDim);
  for (let b = 0; b < o.batch; b++) {
    for (let h = 0; h < o.heads; h++) {
      for (let j = 0; j < o.seq; j++) {
        for (let d = 0; d < o.headDim; d++) {
          const head = (b * o.heads + h) * o.seqPad * o.headDim;
          out[head + (o.transposed ? d * o.seqPad + j : j * o.headDim + d)] = x[(b * o.srcSeq + j) * o.width + o.colOff + h * o.headDim + d];
        }
      }
    }
  }
  return out;
}

/** mergeHeads: x [batch, heads, seqPad, headDim] -> columns colOff.. of `out` [batch, seq, width] (default a new [batch, seq, heads * headDim]). */
export function mergeHeadsRef(x: ArrayLike<number>, batch: number, heads: number, seqPad: number, headDim: number, seq: number, into?: { out: Float64Array; width: number; colOff: number }): Float64Array {
  const width = into?.width ?? heads * headDim;
  const colOff = into?.colOff ?? 0;
  const out = into?.out ?? new Float64Array(batch * seq * width);
  for (let b = 0; b < batch; b++) {
    for (let j = 0; j < seq; j++) {
      for (let h = 0; h < heads; h++) {
        for (let d = 0; d < headDim; d++) out[(b * seq + j) * width + colOff + h * headDim + d] = x[((b * heads + h) * seqPad + j) * headDim + d];
      }
    }
  }
  return out;
}
