/**
 * The kernel families the kernel-check page runs, by name (the page's `?families=` picks some).
 * A new family is a file beside this one exporting a CheckFamily, and one line here.
 */
import { attentionChecks } from './attention.ts';
import type { CheckFamily } from './check.ts';
import { elementwiseChecks } from './elementwise.ts';
import { layerNormChecks } from './layernorm.ts';
import { reduceChecks } from './reduce.ts';
import { sliceChecks } from './slice.ts';
import { softmaxChecks } from './softmax.ts';

export const FAMILIES: Readonly<Record<string, CheckFamily>> = {
  elementwise: elementwiseChecks,
  softmax: softmaxChecks,
  layernorm: layerNormChecks,
  reduce: reduceChecks,
  attention: attentionChecks,
  slice: sliceChecks,
};
