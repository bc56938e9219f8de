/**
 * Dispatch-shape helpers shared by the ops. WebGPU caps each grid dimension (65535 on most
 * adapters), so 1-D work is laid out as rows of at most `maxX` workgroups.
 */
export interface Grid1D {
  workgroups: [number, number];
  /** Threads per grid row, passed to kernels as params.row_pitch: i = gid.y * row_pitch + gid.x. */
  rowPitch: number;
}

export function grid1d(elements: number, workgroupSize: number, maxX = 65535): Grid1D {
  const groups = Math.max(1, Math.ceil(elements / workgroupSize));
  const x = Math.min(groups, maxX);
  return { workgroups: [x, Math.ceil(groups / x)], rowPitch: x * workgroupSize };
}

export const ceilDiv = (a: number, b: number) => Math.ceil(a / b);
