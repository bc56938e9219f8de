// The subcommand table: one line per command, pointing at the module that implements it.
import { registerCommand } from './main.ts';

registerCommand('list', 'write a listing for each photo (the main job)', () => import('./list.ts'));
registerCommand('gpu', 'show the WebGPU adapter, its features and limits', () => import('./gpu-info.ts'));
registerCommand('batch', 'list a folder of images or a catalog, resumably and shardably', () => import('./batch.ts'));
registerCommand('merge', "join 'atelier batch' shard outputs; export Shopify CSV", () => import('./merge.ts'));
registerCommand('data', 'check, cache and import catalogs; train the tokenizer', () => import('./data.ts'));
registerCommand('train', 'train the model on catalogs (multitask), resumable; fine-tune with --init', () => import('./train.ts'));
registerCommand('eval', "score the model's listings against a catalog's own (report JSON / Markdown)", () => import('./eval.ts'));
registerCommand('ablate', 'the results table: reference rows, prompt and grounding ablations', () => import('./ablate.ts'));
registerCommand('vocabulary', "store the catalogs' value vocabularies (training split) in a weights folder's model.json", () => import('./vocabulary.ts'));
registerCommand('warmup', "compile the listing's GPU kernels into the driver's shader cache ahead of the first listing", () => import('./warmup.ts'));
registerCommand('catalog-head', "fit the catalog chooser behind 'list --catalog auto' and store it in a weights folder's model.json", () => import('./catalog-head.ts'));
