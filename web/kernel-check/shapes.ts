import type { CheckSetup } from './check.ts';

/**
 * Shapes for kernels that work on rows (the last dimension): rows of one element, a row that fits
 * in one workgroup pass, a vec4-aligned row, and a row longer than a workgroup's lanes cover in one
 * pass that is not a multiple of 4; one to three leading dimensions.
 */
export function rowShapes(setup: CheckSetup): number[][] {
  const lengths = [1, setup.int(2, 63), 4 * setup.int(2, 96), 4 * setup.int(64, 400) + setup.int(1, 3)];
  return lengths.map((n) => [...Array.from({ length: setup.int(0, 2) }, () => setup.int(1, 6)), n]);
}

/** Row widths for copy kernels: one element, odd, a multiple of 4 (the vec4 path). */
export function rowWidths(setup: CheckSetup): number[] {
  return [1, 2 * setup.int(1, 20) + 1, 4 * setup.int(1, 24)];
}
