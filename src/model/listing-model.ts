/**
 * The listing model at inference: photo(s) in, listing(s) out, on the engine's kernels.
 *
 *   1. backbone  (one recorder): stem convs, patch tokens, encoder blocks -> tokens, pooled
 *   2. heads     (one recorder + one small readback): the fused multi-head classifier gives every
 *                attribute's class and confidence and the price outputs in one dispatch
 *   3. prompt    (CPU): confident attributes and user facts as `name: value` pairs
 *   4. prefill   (one recorder): image memory, cross-attention K/V of every layer (kept for the
 *                whole listing), the prompt through the decoder with K/V written into the
 *                preallocated GPU cache, the first token chosen on the GPU
 *   5. decode    (one recorder per token): the new token's K/V appended in place, attention over
 *                the cache, grounding mask, argmax/sampling on the GPU; 4 bytes per row read back
 *
 * Rows of a batch have prompts of different lengths: the cache holds each row at its own
 * positions (per-row write positions and key lengths), so batching never changes a row's tokens.
 */
import { fitImage, normaliseBatch, DEFAULT_NORMALISE, type PixelImage } from '../data/preprocess.ts';
import type { GpuContext } from '../runtime/gpu.ts';
import { attention } from '../runtime/ops/attention.ts';
import { embedding } from '../runtime/ops/embedding.ts';
import { classifierHeads, headLayout, type HeadLayout as GpuHeadLayout } from '../runtime/ops/heads.ts';
import { appendKv, type KvCache } from '../runtime/ops/kv_cache.ts';
import { argmaxTokens, sampleTokens } from '../runtime/ops/sampling.ts';
import type { Recorder } from '../runtime/recorder.ts';
import { Tensor } from '../runtime/tensor.ts';
import type { CatalogSchema, ModelBundle } from './bundle.ts';
import type { ModelConfig } from './config.ts';
import { backboneForward, crossKeysValues, decoderLayer, decoderMemory, embedTokens, outputLogits, type Weights } from './graph.ts';
import { createGrounding, groundingReport, prepareGroundingVocabulary, type Grounding, type GroundingState, type GroundingVocabulary } from './grounding.ts';
import { buildLexicon, type Lexicon } from './lexicon.ts';
import { schemaFor } from './lexicon-schemas.ts';
import type { AttributePrediction, Listing } from './listing.ts';
import { decodeGenerated, encodePrompt, promptFacts, type PromptFact } from './prompt.ts';
import { tensorOps } from './tensor-ops.ts';
import { OTHER } from '../data/labels.ts';

export interface ListOptions {
  /** Which catalog's heads and schema (default: the first in the weights). */
  catalog?: string;
  /** User facts (brand, corrections): they override predictions and are grounded the same way. */
  facts?: PromptFact[];
  /** 'hierarchical' (predicted attributes in the prompt, the default) or 'flat' (no attributes). */
  prompt?: 'hierarchical' | 'flat';
  /** Grounded decoding (default on): the text cannot contradict prompted attributes. */
  grounded?: boolean;
  maxNewTokens?: number;
  /** 0 (default) is greedy; > 0 samples with topK / topP. */
  temperature?: number;
  topK?: number;
  topP?: number;
  seed?: number;
  /** Stop a row at its end token (default true); benchmarks turn it off to decode a fixed length. */
  stopAtEos?: boolean;
  /** Called with each new token's text, per batch row, as it is generated, and the field it belongs to. */
  onToken?: (row: number, text: string, field: 'title' | 'description') => void;
}

interface CatalogRuntime {
  schema: CatalogSchema;
  gpuHeads: GpuHeadLayout;
  lexicon: Lexicon;
  grounding: GroundingVocabulary;
}

const now = () => performance.now();

export class ListingModel {
  private readonly weights = new Map<string, Tensor>();
  private readonly catalogs = new Map<string, CatalogRuntime>();
  readonly config: ModelConfig;

  private constructor(
    readonly ctx: GpuContext,
    readonly bundle: ModelBundle,
  ) {
    this.config = bundle.config;
  }

  /** Uploads the weights and prepares each catalog's heads, lexicon and grounding vocabulary. */
  static load(ctx: GpuContext, bundle: ModelBundle): ListingModel {
    const m = new ListingModel(ctx, bundle);
    for (const [name, p] of bundle.params) m.weights.set(name, ctx.tensor(p.data, p.shape, 'f32', name));
    const tok = bundle.tokenizer;
    const tokenText = Array.from({ length: tok.vocabSize }, (_, id) => (tok.isSpecial(id) ? '' : tok.decode([id])));
    const specials = tokenText.map((_, id) => id).filter((id) => tok.isSpecial(id));
    for (const schema of bundle.catalogs) {
      const attrs = schema.head.attributes;
      const gpuHeads = headLayout(ctx, [
        ...attrs.map((a) => ({ name: a.name, size: a.values.length, kind: 'softmax' as const })),
        { name: 'price', size: schema.head.priceOutputs, kind: 'raw' as const },
      ]);
      const vocabulary = Object.fromEntries(attrs.map((a) => [a.name, a.values.filter((v) => v !== OTHER)]));
      const lexicon = buildLexicon(schemaFor(schema.name, Object.keys(vocabulary)), vocabulary);
      m.catalogs.set(schema.name, { schema, gpuHeads, lexicon, grounding: prepareGroundingVocabulary(lexicon, tokenText, specials) });
    }
    return m;
  }

  get catalogNames(): string[] {
    return [...this.catalogs.keys()];
  }

  /** Tensors the graph must never free: the weights. */
  private get keep(): ReadonlySet<Tensor> {
    return (this.keepSet ??= new Set(this.weights.values()));
  }
  private keepSet: Set<Tensor> | null = null;

  private w: Weights<Tensor> = (name) => {
    const t = this.weights.get(name);
    if (!t) throw new Error(`weight ${name} is not loaded`);
    return t;
  };

  /** Images (decoded pixels, any size) -> one listing each. Rows are batched through every stage. */
  async list(images: readonly PixelImage[], options: ListOptions = {}): Promise<Listing[]> {
    if (images.length === 0) return [];
    const cat = this.catalog(options.catalog);
    const timings: Record<string, number> = {};
    const { tokens, pooled } = await this.encode(images, timings);
    const rows = await this.classify(cat.schema.name, pooled, timings);
    pooled.dispose();
    const threshold = options.prompt === 'flat' ? Infinity : this.bundle.manifest.confidenceThreshold;
    const facts = rows.map((r) =>
      promptFacts(
        Object.entries(r.attributes)
          .filter(([, p]) => p.value !== OTHER)
          .map(([name, p]) => ({ name, value: p.value, confidence: p.confidence })),
        options.facts ?? [],
        threshold,
      ),
    );
    let texts: { title: string; description: string }[];
    try {
      texts = await this.generate(cat.schema.name, tokens, facts, options, timings);
    } finally {
      tokens.dispose();
    }
    return rows.map((r, b) => {
      const prompted = Object.fromEntries(facts[b].map((f) => [f.name, f.value]));
      const { title, description } = texts[b];
      const grounding = groundingReport(cat.lexicon, { title, description }, prompted).map((g) => ({
        attribute: g.attribute,
        text: g.text,
        value: g.mentioned,
        prompted: g.prompted,
        agrees: g.agrees,
        field: g.segment,
      }));
      const attributes = { ...r.attributes };
      for (const f of options.facts ?? []) attributes[f.name] = { value: f.value, confidence: 1, fact: true };
      return { catalog: cat.schema.name, attributes, price: r.price, title, description, grounding, timings_ms: { ...timings } };
    });
  }

  private catalog(name?: string): CatalogRuntime {
    const cat = this.catalogs.get(name ?? this.catalogNames[0]);
    if (!cat) throw new Error(`unknown catalog '${name}' (these weights have: ${this.catalogNames.join(', ')})`);
    return cat;
  }

  /** Stage 1: the backbone. Returns the patch tokens [B, N, D] and pooled embeddings [B, D] (caller disposes). */
  async encode(images: readonly PixelImage[], timings: Record<string, number> = {}): Promise<{ tokens: Tensor; pooled: Tensor }> {
    const { ctx, config } = this;
    const batch = images.length;
    let t0 = now();
    const { imageWidth: W, imageHeight: H } = config.backbone;
    const pixels = new Uint8Array(batch * W * H * 3);
    images.forEach((img, i) => fitImage(img, { width: W, height: H, background: [255, 255, 255] }, pixels.subarray(i * W * H * 3, (i + 1) * W * H * 3)));
    const input = ctx.tensor(normaliseBatch(pixels, batch, { width: W, height: H }, DEFAULT_NORMALISE), [batch, H, W, 3], 'f32', 'images');
    timings.preprocess_ms = now() - t0;
    t0 = now();
    const rec = ctx.recorder('backbone');
    const out = backboneForward(tensorOps(rec, this.keep), this.w, config, input);
    rec.submit();
    await ctx.settle();
    input.dispose();
    timings.backbone_ms = now() - t0;
    return out;
  }

  /** Stage 2: every attribute's class and confidence and the price interval, in one dispatch. */
  async classify(catalog: string, pooled: Tensor, timings: Record<string, number> = {}) {
    const cat = this.catalog(catalog);
    const t0 = now();
    const rec = this.ctx.recorder('heads');
    const heads = classifierHeads(rec, pooled, this.w(`heads.${cat.schema.name}.weight`), this.w(`heads.${cat.schema.name}.bias`), cat.gpuHeads);
    rec.submit();
    const [probs, argmax, confidence] = await Promise.all([heads.probs.read(), heads.argmax.read(), heads.confidence.read()]);
    heads.probs.dispose();
    heads.argmax.dispose();
    heads.confidence.dispose();
    timings.heads_ms = now() - t0;
    return Array.from({ length: pooled.shape[0] }, (_, b) => this.readHeads(cat, b, probs, argmax, confidence));
  }

  private readHeads(cat: CatalogRuntime, b: number, probs: ArrayLike<number>, argmax: ArrayLike<number>, confidence: ArrayLike<number>) {
    const { head } = cat.schema;
    const nHeads = cat.gpuHeads.heads.length;
    const attributes: Record<string, AttributePrediction> = {};
    head.attributes.forEach((a, i) => {
      attributes[a.name] = { value: a.values[argmax[b * nHeads + i]], confidence: confidence[b * nHeads + i] };
    });
    const priceSeg = cat.gpuHeads.heads[nHeads - 1];
    const base = b * cat.gpuHeads.total + priceSeg.offset;
    const [point, lo, hi] = [probs[base], probs[base + 1], probs[base + 2]].map((v) => cat.schema.price.price(v));
    const value = point;
    return {
      attributes,
      price: { value, low: Math.min(lo, hi, value), high: Math.max(lo, hi, value), currency: cat.schema.price.stats.currency },
    };
  }

  /**
   * Stages 3-5: prompt, prefill and token-by-token decoding of each row's facts over its image
   * tokens [B, N, D]. Returns each row's generated ids (after the prompt) and text.
   */
  async generate(catalog: string, imageTokens: Tensor, facts: PromptFact[][], options: ListOptions = {}, timings: Record<string, number> = {}) {
    const { ctx, config } = this;
    const cat = this.catalog(catalog);
    const tok = this.bundle.tokenizer;
    const d = config.decoder;
    const batch = facts.length;
    const keep = this.keep;
    const prompts = facts.map((f) => encodePrompt(tok, f));
    const maxNew = Math.min(options.maxNewTokens ?? 96, d.maxLength - Math.max(...prompts.map((p) => p.length)));
    if (maxNew < 1) throw new Error(`the prompt (${Math.max(...prompts.map((p) => p.length))} tokens) leaves no room in the decoder's ${d.maxLength}-token context`);
    const grounded = options.grounded ?? true;
    const groundings: (Grounding | null)[] = facts.map((f) => (grounded ? createGrounding(cat.grounding, Object.fromEntries(f.map((x) => [x.name, x.value]))) : null));
    const states: (GroundingState | null)[] = groundings.map((g) => g?.start('title') ?? null);

    // KV caches, preallocated for the whole listing.
    const caches: KvCache[] = Array.from({ length: d.layers }, (_, l) => ({
      k: ctx.empty([batch, d.maxLength, d.dim], 'f32', `cache.${l}.k`),
      v: ctx.empty([batch, d.maxLength, d.dim], 'f32', `cache.${l}.v`),
    }));
    const lengths = prompts.map((p) => p.length);
    const mask = ctx.zeros([batch, d.vocabSize], 'f32', 'grounding-mask');
    const maskHost = new Float32Array(batch * d.vocabSize);
    const uploadMask = () => {
      maskHost.fill(0);
      states.forEach((s, b) => {
        if (!s) return;
        for (const id of groundings[b]!.banned(s)) maskHost[b * d.vocabSize + id] = -Infinity;
      });
      ctx.write(mask, maskHost);
    };
    const choose = (rec: Recorder, logits: Tensor, step: number) =>
      options.temperature && options.temperature > 0
        ? sampleTokens(rec, logits, { mask, temperature: options.temperature, topK: options.topK, topP: options.topP, seed: ((options.seed ?? 0) + step * 7919) >>> 0 })
        : argmaxTokens(rec, logits, { mask });

    // 4. prefill (inputs uploaded before the recorder opens, so no upload breaks the pass)
    let t0 = now();
    uploadMask();
    const P = Math.max(...lengths);
    const pad = tok.specialId('<pad>');
    const ids = ctx.tensor(Uint32Array.from(prompts.flatMap((p) => [...p, ...Array(P - p.length).fill(pad)])), [batch, P], 'u32', 'prompt');
    const posIds = ctx.tensor(Uint32Array.from(prompts.flatMap(() => Array.from({ length: P }, (_, i) => i))), [batch, P], 'u32', 'positions');
    // The last prompt position of each row: rows b*P + len_b - 1 of the flattened hidden states.
    const lastIds = ctx.tensor(Uint32Array.from(lengths.map((len, b) => b * P + len - 1)), [batch, 1], 'u32', 'last-prompt-rows');
    let rec = ctx.recorder('prefill');
    let ops = tensorOps(rec, keep);
    const memory = decoderMemory(ops, this.w, imageTokens);
    const cross = Array.from({ length: d.layers }, (_, l) => crossKeysValues(ops, this.w, l, memory));
    memory.dispose();
    let x = embedTokens(ops, this.w, ids, posIds);
    for (let l = 0; l < d.layers; l++) {
      x = decoderLayer(ops, this.w, config, l, x, cross[l], (layer, q, k, v) => {
        appendKv(rec, caches[layer], k, v, 0);
        return attention(rec, q, caches[layer].k, caches[layer].v, { heads: d.heads, causal: true, past: 0, kvLength: P });
      });
    }
    const last = embedding(rec, x.reshape([batch * P, d.dim]), lastIds);
    x.dispose();
    const logits = outputLogits(ops, this.w, config, last);
    let next = choose(rec, logits, 0);
    logits.dispose();
    rec.submit();
    let chosen = (await next.read()) as Uint32Array;
    next.dispose();
    ids.dispose();
    posIds.dispose();
    lastIds.dispose();
    timings.prefill_ms = now() - t0;

    // 5. decode
    const eos = tok.specialId('</s>');
    const descId = tok.specialId('<desc>');
    const generated: number[][] = Array.from({ length: batch }, () => []);
    const done = new Array(batch).fill(false);
    const fields = new Array<'title' | 'description'>(batch).fill('title');
    const stepIds = ctx.empty([batch, 1], 'u32', 'step-ids');
    const stepPos = ctx.empty([batch, 1], 'u32', 'step-positions');
    const kvLengths = ctx.empty([batch], 'u32', 'kv-lengths');
    const stepMs: number[] = [];
    t0 = now();
    for (let step = 0; ; step++) {
      for (let b = 0; b < batch; b++) {
        if (done[b]) continue;
        const id = chosen[b];
        generated[b].push(id);
        if (id === eos && options.stopAtEos !== false) done[b] = true;
        else if (id === descId) fields[b] = 'description';
        else if (options.onToken && !tok.isSpecial(id)) options.onToken(b, tok.decode([id]), fields[b]);
        if (states[b]) states[b] = id === descId ? groundings[b]!.start('description') : groundings[b]!.advance(states[b]!, id);
      }
      if (done.every(Boolean) || step + 1 >= maxNew) break;
      const ts = now();
      const pos = lengths.map((len) => len + step); // where this step's input token sits, per row
      ctx.write(stepIds, Uint32Array.from(chosen));
      ctx.write(stepPos, Uint32Array.from(pos));
      ctx.write(kvLengths, Uint32Array.from(pos.map((p) => p + 1)));
      uploadMask();
      rec = ctx.recorder('decode');
      ops = tensorOps(rec, keep);
      const maxLen = Math.max(...pos) + 1;
      let h = embedTokens(ops, this.w, stepIds, stepPos);
      for (let l = 0; l < d.layers; l++) {
        h = decoderLayer(ops, this.w, config, l, h, cross[l], (layer, q, k, v) => {
          appendKv(rec, caches[layer], k, v, stepPos);
          return attention(rec, q, caches[layer].k, caches[layer].v, { heads: d.heads, kvLength: maxLen, kvLengths });
        });
      }
      const stepLogits = outputLogits(ops, this.w, config, h);
      next = choose(rec, stepLogits, step + 1);
      stepLogits.dispose();
      rec.submit();
      chosen = (await next.read()) as Uint32Array;
      next.dispose();
      stepMs.push(now() - ts);
    }
    timings.decode_ms = now() - t0;
    timings.decode_steps = stepMs.length;
    timings.decode_ms_per_token = stepMs.length ? stepMs.reduce((a, b) => a + b, 0) / stepMs.length : 0;
    for (const c of caches) c.k.dispose(), c.v.dispose();
    for (const c of cross) c.k.dispose(), c.v.dispose();
    for (const t of [mask, stepIds, stepPos, kvLengths]) t.dispose();
    this.lastStepTimes = stepMs;
    return generated.map((ids) => ({ ...decodeGenerated(tok, ids), ids }));
  }

  /** Wall time of each decode step of the last call (for the flat-decode benchmark). */
  lastStepTimes: number[] = [];

  dispose(): void {
    for (const t of this.weights.values()) t.dispose();
    this.weights.clear();
    for (const c of this.catalogs.values()) c.gpuHeads.segments.dispose();
  }
}
