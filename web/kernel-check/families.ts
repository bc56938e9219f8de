/**
 * The kernel families the kernel-check page runs, by name (the page's `?families=` picks some).
 * A new family is a file beside this one exporting a CheckFamily, and one line here.
 */
import { attentionChecks } from './attention.ts';
import type { CheckFamily } from './check.ts';
import { conv2dChecks } from './conv2d.ts';
import { elementwiseChecks } from './elementwise.ts';
import { embeddingChecks } from './embedding.ts';
import { headsChecks } from './heads.ts';
import { kvCacheChecks } from './kv_cache.ts';
import { layerNormChecks } from './layernorm.ts';
import { matmulChecks } from './matmul.ts';
import { reduceChecks } from './reduce.ts';
import { samplingChecks } from './sampling.ts';
import { sliceChecks } from './slice.ts';
import { softmaxChecks } from './softmax.ts';

export const FAMILIES: Readonly<Record<string, CheckFamily>> = {
  elementwise: elementwiseChecks,
  softmax: softmaxChecks,
  layernorm: layerNormChecks,
  reduce: reduceChecks,
  attention: attentionChecks,
  slice: sliceChecks,
  matmul: matmulChecks,
  conv2d: conv2dChecks,
  embedding: embeddingChecks,
  kv_cache: kvCacheChecks,
  heads: headsChecks,
  sampling: samplingChecks,
};
