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
import { exactF16, toF16Array } from '../runtime/dtype.ts';
import type { GpuContext, PendingRead } from '../runtime/gpu.ts';
import { attention, type AttentionOptions } from '../runtime/ops/attention.ts';
import { qkvColumns } from '../runtime/ops/columns.ts';
import { embedding } from '../runtime/ops/embedding.ts';
import { classifierHeads, headLayout, type HeadLayout as GpuHeadLayout } from '../runtime/ops/heads.ts';
import { appendKv, type KvCache } from '../runtime/ops/kv_cache.ts';
import { argmaxTokens, sampleTokens } from '../runtime/ops/sampling.ts';
import type { Recorder } from '../runtime/recorder.ts';
import { Tensor } from '../runtime/tensor.ts';
import type { CatalogSchema, ModelBundle } from './bundle.ts';
import { backboneFingerprint, CatalogChooser, type CatalogChoice } from './catalog-chooser.ts';
import type { ModelConfig } from './config.ts';
import { backboneForward, crossKeysValues, decoderLayer, decoderMemory, embedTokens, outputLogits, type Weights } from './graph.ts';
import { createGrounding, groundingReport, prepareGroundingVocabulary, type Grounding, type GroundingMode, type GroundingState, type GroundingVocabulary } from './grounding.ts';
import { catalogLexicon, type Lexicon } from './lexicon.ts';
import type { AttributePrediction, Listing } from './listing.ts';
import { decodeGenerated, encodePrompt, promptFacts, type PromptFact } from './prompt.ts';
import { tensorOps } from './tensor-ops.ts';
import { OTHER } from '../data/labels.ts';
import type { BpeTokenizer } from '../data/tokenizer.ts';

/** `ListOptions.catalog` value that lets the catalog chooser pick each photo's catalog. */
export const AUTO_CATALOG = 'auto';

export interface ListOptions {
  /**
   * Which catalog's heads and schema (default: the first in the weights); 'auto' picks each photo's
   * best-fitting catalog with the weights' catalog chooser (src/model/catalog-chooser.ts).
   */
  catalog?: string;
  /** User facts (brand, corrections): they override predictions and are grounded the same way. */
  facts?: PromptFact[];
  /** 'hierarchical' (predicted attributes in the prompt, the default) or 'flat' (no attributes). */
  prompt?: 'hierarchical' | 'flat';
  /**
   * Grounded decoding: 'prompted' (default) — the text cannot contradict a prompted attribute;
   * 'strict' — nor name a checked attribute that was not prompted; 'off' — unconstrained.
   */
  grounding?: GroundingMode | 'off';
  maxNewTokens?: number;
  /** 0 (default) is greedy; > 0 samples with topK / topP. */
  temperature?: number;
  topK?: number;
  topP?: number;
  seed?: number;
  /** Stop a row at its end token (default true); benchmarks turn it off to decode a fixed length. */
  stopAtEos?: boolean;
  /**
   * Never repeat an n-gram of generated tokens (default 3; 0 turns it off): small decoders loop on
   * greedy decoding otherwise. Applied through the same GPU mask as grounding.
   */
  noRepeatNgram?: number;
  /** A title that reaches this many tokens is closed: the next token is forced to <desc> (default 24). */
  maxTitleTokens?: number;
  /**
   * A word-start token may occur at most this many times in a title (default 2; 0 turns it off):
   * greedy decoding otherwise writes titles like "Nike Men's Der Men's Bots Men's", which the
   * trigram rule does not catch.
   */
  maxTitleRepeats?: number;
  /** Beam search with this many beams (default 1: greedy or sampling; onToken is not called). */
  beams?: number;
  /** Called with each new token's text, per batch row, as it is generated, and the field it belongs to. */
  onToken?: (row: number, text: string, field: 'title' | 'description') => void;
}

export interface LoadOptions {
  /**
   * How the matmul weights (linear layers, the tied output projection) are kept on the GPU:
   * 'f16' in half precision with f32 arithmetic — half the memory and weight traffic (on lavapipe
   * a 1×384×1536 matrix-vector product runs 1.4x faster, the 1×128×4096 one no faster: bench:kernels)
   * — and needs the adapter's shader-f16; 'f32' as they are. 'auto' (default) takes f16 for each weight f16 holds
   * exactly (weights stored in f16, as the committed ones are: nothing is lost) when the adapter
   * has shader-f16, f32 otherwise. Convs, norms, embeddings and the fused heads stay f32.
   */
  weights?: 'auto' | 'f32' | 'f16';
}

/** Linear-layer weights [out, in] of the backbone blocks and the decoder (not heads, convs, tables). */
function isMatmulWeight(name: string, shape: readonly number[]): boolean {
  return shape.length === 2 && name.endsWith('.weight') && !name.startsWith('heads.');
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
  /** f16 copies used by matmuls of weights that must also stay f32 (the tied embedding). */
  readonly halfCopies = new Map<Tensor, Tensor>();
  private readonly catalogs = new Map<string, CatalogRuntime>();
  readonly config: ModelConfig;

  private constructor(
    readonly ctx: GpuContext,
    readonly bundle: ModelBundle,
  ) {
    this.config = bundle.config;
  }

  /** Uploads the weights and prepares each catalog's heads, lexicon and grounding vocabulary. */
  static load(ctx: GpuContext, bundle: ModelBundle, options: LoadOptions = {}): ListingModel {
    const m = new ListingModel(ctx, bundle);
    const mode = options.weights ?? 'auto';
    if (mode === 'f16' && !ctx.features.f16) throw new Error('f16 weights need the adapter feature shader-f16, which this device lacks; load with weights: f32 or auto');
    const halfOf = (data: Float32Array): Uint16Array | null => (mode === 'f16' ? toF16Array(data) : mode === 'auto' && ctx.features.f16 ? exactF16(data) : null);
    for (const [name, p] of bundle.params) {
      // The tied embedding is gathered in f32 and projected with an f16 copy.
      const tied = name === 'decoder.embed';
      const half = tied || isMatmulWeight(name, p.shape) ? halfOf(p.data) : null;
      m.weights.set(name, half && !tied ? ctx.tensor(half, p.shape, 'f16', name) : ctx.tensor(p.data, p.shape, 'f32', name));
      if (half && tied) m.halfCopies.set(m.weights.get(name)!, ctx.tensor(half, p.shape, 'f16', `${name}.f16`));
    }
    const tok = bundle.tokenizer;
    const tokenText = Array.from({ length: tok.vocabSize }, (_, id) => (tok.isSpecial(id) ? '' : tok.decode([id])));
    const specials = tokenText.map((_, id) => id).filter((id) => tok.isSpecial(id));
    for (const schema of bundle.catalogs) {
      const attrs = schema.head.attributes;
      const gpuHeads = headLayout(ctx, [
        ...attrs.map((a) => ({ name: a.name, size: a.values.length, kind: 'softmax' as const })),
        { name: 'price', size: schema.head.priceOutputs, kind: 'raw' as const },
      ]);
      // The full value vocabulary, not only the head classes: rare values are bannable too.
      const lexicon = catalogLexicon(schema.name, schema.vocabulary);
      m.catalogs.set(schema.name, { schema, gpuHeads, lexicon, grounding: prepareGroundingVocabulary(lexicon, tokenText, specials) });
    }
    return m;
  }

  get catalogNames(): string[] {
    return [...this.catalogs.keys()];
  }

  /** Tensors the graph must never free: the weights. */
  get keepTensors(): ReadonlySet<Tensor> {
    return (this.keepSet ??= new Set(this.weights.values()));
  }
  private keepSet: Set<Tensor> | null = null;

  /** A weight tensor by parameter name. */
  readonly weight: Weights<Tensor> = (name) => {
    const t = this.weights.get(name);
    if (!t) throw new Error(`weight ${name} is not loaded`);
    return t;
  };

  /** Images (decoded pixels, any size) -> one listing each. Rows are batched through every stage. */
  async list(images: readonly PixelImage[], options: ListOptions = {}): Promise<Listing[]> {
    if (images.length === 0) return [];
    const auto = options.catalog === AUTO_CATALOG && !this.catalogs.has(AUTO_CATALOG);
    if (!auto) this.catalog(options.catalog); // an unknown name fails before any GPU work
    const timings: Record<string, number> = {};
    const { tokens, pooled } = await this.encode(images, timings);
    let choices: CatalogChoice[];
    try {
      choices = auto ? await this.chooseCatalogs(images, pooled, timings) : images.map(() => this.namedChoice(options.catalog));
    } catch (e) {
      tokens.dispose();
      pooled.dispose();
      throw e;
    }
    const chosen = [...new Set(choices.map((c) => c.used))];
    if (chosen.length > 1) {
      // Rows chose different catalogs: each group is listed with its own (its backbone pass again).
      tokens.dispose();
      pooled.dispose();
      const out = new Array<Listing>(images.length);
      for (const name of chosen) {
        const rows = choices.flatMap((c, i) => (c.used === name ? [i] : []));
        const listed = await this.list(rows.map((i) => images[i]), { ...options, catalog: name });
        rows.forEach((i, k) => (out[i] = { ...listed[k], catalog_choice: choices[i] }));
      }
      return out;
    }
    const cat = this.catalog(chosen[0]);
    let rows: Awaited<ReturnType<ListingModel['classify']>>;
    try {
      rows = await this.classify(cat.schema.name, pooled, timings);
    } catch (e) {
      tokens.dispose();
      throw e;
    } finally {
      pooled.dispose();
    }
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
      return { catalog: cat.schema.name, catalog_choice: choices[b], attributes, price: r.price, title, description, grounding, timings_ms: { ...timings } };
    });
  }

  /** The catalog chooser stored with the weights, or why there is none that fits them (worked out once). */
  get catalogChooser(): CatalogChooser | string {
    return (this.chooserCache ??= CatalogChooser.fromModel(this.bundle.manifest.catalogChooser, this.catalogNames, this.config.backbone.dim, () => backboneFingerprint(this.bundle.params)));
  }
  private chooserCache: CatalogChooser | string | null = null;

  /**
   * `--catalog auto`: each photo's best-fitting catalog by the chooser (its pooled embedding and
   * image statistics), or the first catalog, with a note, when the weights have no usable chooser.
   */
  async chooseCatalogs(images: readonly PixelImage[], pooled: Tensor, timings: Record<string, number> = {}): Promise<CatalogChoice[]> {
    const available = this.catalogNames;
    const chooser = this.catalogChooser;
    if (typeof chooser === 'string') return images.map(() => ({ used: available[0], available, chosen_by: 'default', confidence: null, note: chooser }));
    const t0 = now();
    const values = (await pooled.read()) as Float32Array;
    const d = pooled.shape[1];
    const choices = images.map((img, b): CatalogChoice => {
      const c = chooser.choose(values.subarray(b * d, (b + 1) * d), img);
      return { used: c.catalog, available, chosen_by: 'auto', confidence: c.confidence, probabilities: c.probabilities };
    });
    timings.catalog_ms = now() - t0;
    return choices;
  }

  private namedChoice(name: string | undefined): CatalogChoice {
    const available = this.catalogNames;
    return { used: this.catalog(name).schema.name, available, chosen_by: name ? 'flag' : 'default', confidence: null };
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
    const out = backboneForward(tensorOps(rec, this.keepTensors, this.halfCopies), this.weight, config, input);
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
    const heads = classifierHeads(rec, pooled, this.weight(`heads.${cat.schema.name}.weight`), this.weight(`heads.${cat.schema.name}.bias`), cat.gpuHeads);
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
   * tokens [B, N, D]. Returns each row's generated ids (after the prompt) and text. With
   * `beams > 1` each row is decoded by beam search instead (see beamSearch).
   */
  async generate(catalog: string, imageTokens: Tensor, facts: PromptFact[][], options: ListOptions = {}, timings: Record<string, number> = {}) {
    if ((options.beams ?? 1) > 1) {
      const out = [];
      for (let b = 0; b < facts.length; b++) {
        const row = facts.length === 1 ? imageTokens : rowOf(this.ctx, imageTokens, b);
        try {
          out.push(await this.beamSearch(catalog, row, facts[b], options, timings));
        } finally {
          if (row !== imageTokens) row.dispose();
        }
      }
      return out;
    }
    const cat = this.catalog(catalog);
    const tok = this.bundle.tokenizer;
    const batch = facts.length;
    const prompts = facts.map((f) => encodePrompt(tok, f));
    const maxNew = this.maxNewTokens(prompts, options);
    const mode = options.grounding ?? 'prompted';
    let groundings: (Grounding | null)[] = [];
    let states: (GroundingState | null)[] = [];
    const session = new DecoderSession(this, batch);
    const choose = (rec: Recorder, logits: Tensor, step: number, out: Tensor) =>
      options.temperature && options.temperature > 0
        ? sampleTokens(rec, logits, { mask: session.mask, temperature: options.temperature, topK: options.topK, topP: options.topP, seed: ((options.seed ?? 0) + step * 7919) >>> 0, out })
        : argmaxTokens(rec, logits, { mask: session.mask, out });
    const eos = tok.specialId('</s>');
    const descId = tok.specialId('<desc>');
    const generated: number[][] = Array.from({ length: batch }, () => []);
    const done = new Array(batch).fill(false);
    const fields = new Array<'title' | 'description'>(batch).fill('title');
    const stepMs: number[] = [];
    const noRepeat = options.noRepeatNgram ?? 3;
    const maxTitle = options.maxTitleTokens ?? 24;
    const titleRepeats = options.maxTitleRepeats ?? 2;
    const bans = (g: readonly number[], b: number) => {
      const ngrams = repeatedNgramBans(g, noRepeat);
      return fields[b] === 'title' && titleRepeats > 0 ? [...ngrams, ...repeatedWordBans(g, this.wordStarts, titleRepeats)] : ngrams;
    };
    const lengths = prompts.map((p) => p.length);
    const positions = (step: number) => lengths.map((len) => len + step);
    // The token chosen at step s feeds step s + 1 on the GPU: the pick writes it into one of two
    // token buffers, the next forward pass reads it from there, and only the grounding mask needs
    // the CPU to see it. So forward pass s + 1 is recorded ahead and submitted right after pick s,
    // and the GPU runs it while the CPU reads the token back and computes the next mask: per step
    // the GPU waits only for that mask, before the (one-dispatch) pick.
    const forwardPass = (step: number) => {
      const at = positions(step);
      const { rec, logits } = session.record(at, session.tokenBuffers[step % 2]);
      rec.finish();
      return { rec, logits, positions: at };
    };
    /** The masked pick after forward pass `step`: its token goes to the next buffer and is read back in the same submission. */
    const pick = (label: string, logits: Tensor, step: number) => {
      const rec = this.ctx.recorder(label);
      const out = session.tokenBuffers[(step + 1) % 2];
      choose(rec, logits, step + 1, out);
      logits.dispose();
      const read = this.ctx.readAfter(rec, out);
      rec.submit();
      return read;
    };
    let current: ReturnType<typeof forwardPass> | null = null;
    let ahead: ReturnType<typeof forwardPass> | null = null;
    let read: PendingRead | null = null;
    try {
      // 4. prefill: its forward pass goes first; the grounding automata and the first mask are
      // built while the GPU runs it, then the masked pick, then the first decode step's forward pass.
      let t0 = now();
      const prefill = session.prefill(imageTokens, prompts);
      prefill.rec.submit();
      groundings = facts.map((f) => (mode === 'off' ? null : createGrounding(cat.grounding, Object.fromEntries(f.map((x) => [x.name, x.value])), mode)));
      states = groundings.map((g) => g?.start('title') ?? null);
      session.setMask(groundings, states, []);
      read = pick('prefill-pick', prefill.logits, -1);
      const submitForward = (pass: ReturnType<typeof forwardPass>) => {
        session.setPositions(pass.positions);
        pass.rec.submit();
        return pass;
      };
      current = maxNew > 1 ? submitForward(forwardPass(0)) : null;
      ahead = maxNew > 2 ? forwardPass(1) : null;
      let chosen = (await read.read()) as Uint32Array;
      timings.prefill_ms = now() - t0;

      // 5. decode
      t0 = now();
      let arrived = now();
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
        session.setMask(
          groundings,
          states,
          generated.map(bans),
          generated.map((g, b) => (fields[b] === 'title' && g.length >= maxTitle ? descId : null)),
        );
        read = pick('decode-pick', current!.logits, step);
        current = ahead ? submitForward(ahead) : null;
        ahead = step + 3 < maxNew ? forwardPass(step + 2) : null;
        chosen = (await read.read()) as Uint32Array;
        const t = now();
        stepMs.push(t - arrived);
        arrived = t;
      }
      timings.decode_ms = now() - t0;
    } finally {
      read?.release(); // only when an error cut the loop short before the read
      current?.logits.dispose();
      if (ahead) {
        ahead.rec.discard();
        ahead.logits.dispose();
      }
      session.dispose();
    }
    timings.decode_steps = stepMs.length;
    timings.decode_ms_per_token = stepMs.length ? stepMs.reduce((a, b) => a + b, 0) / stepMs.length : 0;
    this.lastStepTimes = stepMs;
    return generated.map((ids) => ({ ...decodeGenerated(tok, ids), ids }));
  }

  private maxNewTokens(prompts: number[][], options: ListOptions): number {
    const longest = Math.max(...prompts.map((p) => p.length));
    // By default a listing runs to its end token or the context's end, never to a shorter cap
    // that would cut a description mid-sentence (Myntra's run to a median of ~100 words).
    const maxNew = Math.min(options.maxNewTokens ?? Infinity, this.config.decoder.maxLength - longest);
    if (maxNew < 1) throw new Error(`the prompt (${longest} tokens) leaves no room in the decoder's ${this.config.decoder.maxLength}-token context`);
    return maxNew;
  }

  /**
   * Beam search for one listing: `beams` hypotheses decoded as the rows of one batch. Each step
   * reads the rows' logits back, scores every continuation by summed log-probability (banned tokens
   * excluded, so grounding holds for every beam), keeps the best `beams`, and reorders the KV cache
   * rows on the GPU to follow their parents. Finished hypotheses are ranked by score / length^0.7.
   */
  private async beamSearch(catalog: string, imageTokens: Tensor, facts: PromptFact[], options: ListOptions, timings: Record<string, number>) {
    const beams = options.beams!;
    const cat = this.catalog(catalog);
    const tok = this.bundle.tokenizer;
    const V = this.config.decoder.vocabSize;
    const eos = tok.specialId('</s>');
    const descId = tok.specialId('<desc>');
    const prompt = encodePrompt(tok, facts);
    const maxNew = this.maxNewTokens([prompt], options);
    const mode = options.grounding ?? 'prompted';
    const grounding = mode === 'off' ? null : createGrounding(cat.grounding, Object.fromEntries(facts.map((x) => [x.name, x.value])), mode);
    const tokens = rowsOf(this.ctx, imageTokens, beams);
    const session = new DecoderSession(this, beams);
    type Hyp = { ids: number[]; score: number; state: GroundingState | null };
    let alive: Hyp[] = [{ ids: [], score: 0, state: grounding?.start('title') ?? null }];
    const finished: Hyp[] = [];
    const rank = (h: Hyp) => h.score / Math.max(1, h.ids.length) ** 0.7;
    const t0 = now();
    try {
      let { rec, logits } = session.prefill(tokens, Array.from({ length: beams }, () => prompt));
      for (let step = 0; step < maxNew; step++) {
        rec.submit();
        const all = (await logits.read()) as Float32Array;
        logits.dispose();
        const candidates: { parent: number; id: number; score: number }[] = [];
        alive.forEach((h, row) => {
          const banned = new Set([...(h.state && grounding ? grounding.banned(h.state) : []), ...repeatedNgramBans(h.ids, options.noRepeatNgram ?? 3)]);
          const base = row * V;
          let max = -Infinity;
          for (let i = 0; i < V; i++) if (!banned.has(i) && all[base + i] > max) max = all[base + i];
          let sum = 0;
          for (let i = 0; i < V; i++) if (!banned.has(i)) sum += Math.exp(all[base + i] - max);
          const logZ = max + Math.log(sum);
          const top: { id: number; logp: number }[] = [];
          for (let i = 0; i < V; i++) {
            if (banned.has(i)) continue;
            const logp = all[base + i] - logZ;
            if (top.length < beams || logp > top[top.length - 1].logp) {
              top.push({ id: i, logp });
              top.sort((a, b) => b.logp - a.logp);
              if (top.length > beams) top.pop();
            }
          }
          for (const c of top) candidates.push({ parent: row, id: c.id, score: h.score + c.logp });
        });
        candidates.sort((a, b) => b.score - a.score);
        const next: Hyp[] = [];
        const parents: number[] = [];
        for (const c of candidates) {
          const parent = alive[c.parent];
          const ids = [...parent.ids, c.id];
          const state = parent.state && grounding ? (c.id === descId ? grounding.start('description') : grounding.advance(parent.state, c.id)) : null;
          if (c.id === eos) finished.push({ ids, score: c.score, state });
          else if (next.length < beams) {
            next.push({ ids, score: c.score, state });
            parents.push(c.parent);
          }
          if (next.length === beams && finished.length >= beams) break;
        }
        alive = next;
        const bestFinished = Math.max(...finished.map(rank));
        if (alive.length === 0 || step + 1 >= maxNew || (finished.length >= beams && bestFinished >= Math.max(...alive.map(rank)))) break;
        while (parents.length < beams) parents.push(parents[0]); // unused rows follow the best beam
        session.reorder(parents);
        const positions = Array(beams).fill(prompt.length + step);
        session.setInputs(Uint32Array.from(alive.map((h) => h.ids[h.ids.length - 1]).concat(Array(beams - alive.length).fill(alive[0].ids.at(-1)!))), positions);
        ({ rec, logits } = session.record(positions));
      }
    } finally {
      session.dispose();
      tokens.dispose();
    }
    timings.decode_ms = (timings.decode_ms ?? 0) + now() - t0;
    const best = [...finished, ...alive].sort((a, b) => rank(b) - rank(a))[0];
    return { ...decodeGenerated(tok, best.ids), ids: best.ids };
  }

  /** Wall time of each decode step of the last call (for the flat-decode benchmark). */
  lastStepTimes: number[] = [];

  private wordStartsCache: Uint8Array | null = null;
  /** The tokenizer's word-start tokens (the title repetition rule), computed on first use. */
  get wordStarts(): Uint8Array {
    return (this.wordStartsCache ??= wordStartTokens(this.bundle.tokenizer));
  }

  dispose(): void {
    for (const t of [...this.weights.values(), ...this.halfCopies.values()]) t.dispose();
    this.weights.clear();
    this.halfCopies.clear();
    for (const c of this.catalogs.values()) c.gpuHeads.segments.dispose();
  }
}

/**
 * The decoder's GPU state for one generation: per-layer KV caches preallocated for the whole
 * listing, the cross-attention keys and values over the image (computed once at prefill), the
 * grounding mask and the small per-step input buffers. Each call records one pass and returns the
 * logits of the rows' last positions [B, 1, V]; the caller chooses tokens and submits.
 */
class DecoderSession {
  readonly mask: Tensor;
  private readonly caches: KvCache[];
  private cross: { k: Tensor; v: Tensor }[] = [];
  private readonly stepIds: Tensor;
  /** Greedy decoding's token feedback: the pick after pass s writes buffer (s + 1) % 2, pass s + 1 reads it. */
  readonly tokenBuffers: [Tensor, Tensor];
  private readonly stepPos: Tensor;
  private readonly kvLengths: Tensor;
  private readonly maskHost: Float32Array;

  constructor(
    private readonly model: ListingModel,
    private readonly batch: number,
  ) {
    const { ctx, config } = model;
    const d = config.decoder;
    this.caches = Array.from({ length: d.layers }, (_, l) => ({
      k: ctx.empty([batch, d.maxLength, d.dim], 'f32', `cache.${l}.k`),
      v: ctx.empty([batch, d.maxLength, d.dim], 'f32', `cache.${l}.v`),
    }));
    this.mask = ctx.zeros([batch, d.vocabSize], 'f32', 'grounding-mask');
    this.maskHost = new Float32Array(batch * d.vocabSize);
    this.stepIds = ctx.empty([batch, 1], 'u32', 'step-ids');
    this.tokenBuffers = [ctx.empty([batch, 1], 'u32', 'tokens.0'), ctx.empty([batch, 1], 'u32', 'tokens.1')];
    this.stepPos = ctx.empty([batch, 1], 'u32', 'step-positions');
    this.kvLengths = ctx.empty([batch], 'u32', 'kv-lengths');
  }

  /**
   * -inf at every token that grounding bans for each row's current state and at `extra[b]`; a row
   * with a `forced[b]` token may choose only that token.
   */
  setMask(groundings: readonly (Grounding | null)[], states: readonly (GroundingState | null)[], extra: readonly (readonly number[])[], forced: readonly (number | null)[] = []): void {
    const V = this.model.config.decoder.vocabSize;
    this.maskHost.fill(0);
    states.forEach((s, b) => {
      const only = forced[b];
      if (only != null) {
        this.maskHost.fill(-Infinity, b * V, (b + 1) * V);
        this.maskHost[b * V + only] = 0;
        return;
      }
      if (s) for (const id of groundings[b]!.banned(s)) this.maskHost[b * V + id] = -Infinity;
      for (const id of extra[b] ?? []) this.maskHost[b * V + id] = -Infinity;
    });
    this.model.ctx.write(this.mask, this.maskHost);
  }

  /** The prompts (ragged) through the decoder, K/V written into the caches at positions 0..len-1. */
  prefill(imageTokens: Tensor, prompts: number[][]): { rec: Recorder; logits: Tensor } {
    const { ctx, config } = this.model;
    const d = config.decoder;
    const tok = this.model.bundle.tokenizer;
    const lengths = prompts.map((p) => p.length);
    const P = Math.max(...lengths);
    // Inputs are uploaded before the recorder opens, so no upload breaks the pass.
    const pad = tok.specialId('<pad>');
    const ids = ctx.tensor(Uint32Array.from(prompts.flatMap((p) => [...p, ...Array(P - p.length).fill(pad)])), [this.batch, P], 'u32', 'prompt');
    const posIds = ctx.tensor(Uint32Array.from(prompts.flatMap(() => Array.from({ length: P }, (_, i) => i))), [this.batch, P], 'u32', 'positions');
    // The last prompt position of each row: rows b*P + len_b - 1 of the flattened hidden states.
    const lastIds = ctx.tensor(Uint32Array.from(lengths.map((len, b) => b * P + len - 1)), [this.batch, 1], 'u32', 'last-prompt-rows');
    const rec = ctx.recorder('prefill');
    const ops = tensorOps(rec, this.model.keepTensors, this.model.halfCopies);
    const w = this.model.weight;
    const memory = decoderMemory(ops, w, imageTokens);
    this.cross = Array.from({ length: d.layers }, (_, l) => crossKeysValues(ops, w, l, memory));
    memory.dispose();
    let x = embedTokens(ops, w, ids, posIds);
    for (let l = 0; l < d.layers; l++) {
      x = decoderLayer(ops, w, config, l, x, this.cross[l], (layer, qkv) => this.cachedAttention(rec, layer, qkv, 0, { heads: d.heads, causal: true, past: 0, kvLength: P }));
    }
    const last = embedding(rec, x.reshape([this.batch * P, d.dim]), lastIds);
    x.dispose();
    const logits = outputLogits(ops, w, config, last);
    for (const t of [ids, posIds, lastIds]) rec.disposeAfterSubmit(t);
    return { rec, logits };
  }

  /** The step inputs from the host: each row's token and the position it takes (no recorder may be open). */
  setInputs(tokens: Uint32Array, positions: number[]): void {
    this.model.ctx.write(this.stepIds, tokens);
    this.setPositions(positions);
  }

  /** Each row's position for the next pass (written straight to the GPU, so no recorder may be open). */
  setPositions(positions: number[]): void {
    const { ctx } = this.model;
    ctx.write(this.stepPos, Uint32Array.from(positions));
    ctx.write(this.kvLengths, Uint32Array.from(positions, (p) => p + 1));
  }

  /**
   * Record one pass for rows at `positions` (one token each, from `ids`: the host's setInputs or a
   * token buffer the previous pick wrote; K/V appended in place, attention over each row's prefix).
   * It reads the positions setPositions writes, which may come after recording.
   */
  record(positions: number[], ids: Tensor = this.stepIds): { rec: Recorder; logits: Tensor } {
    const { ctx, config } = this.model;
    const d = config.decoder;
    const rec = ctx.recorder('decode');
    const ops = tensorOps(rec, this.model.keepTensors, this.model.halfCopies);
    const w = this.model.weight;
    const maxLen = Math.max(...positions) + 1;
    let h = embedTokens(ops, w, ids, this.stepPos);
    for (let l = 0; l < d.layers; l++) {
      h = decoderLayer(ops, w, config, l, h, this.cross[l], (layer, qkv) => this.cachedAttention(rec, layer, qkv, this.stepPos, { heads: d.heads, kvLength: maxLen, kvLengths: this.kvLengths }));
    }
    return { rec, logits: outputLogits(ops, w, config, h) };
  }

  /** Self-attention through a layer's KV cache: the new rows' K and V (columns of qkv) appended at `pos`, then q attends over the cache. */
  private cachedAttention(rec: Recorder, layer: number, qkv: Tensor, pos: number | Tensor, options: AttentionOptions): Tensor {
    const [q, k, v] = qkvColumns(qkv);
    const cache = this.caches[layer];
    appendKv(rec, cache, k, v, pos);
    return attention(rec, q, cache.k, cache.v, options);
  }

  /** Row b of every cache becomes the former row parents[b] (beam search). */
  reorder(parents: number[]): void {
    const { ctx } = this.model;
    const ids = ctx.tensor(Uint32Array.from(parents), [this.batch], 'u32', 'beam-parents');
    const rec = ctx.recorder('beam-reorder');
    for (const cache of this.caches) {
      for (const key of ['k', 'v'] as const) {
        const t = cache[key];
        const rows = t.reshape([this.batch, t.size / this.batch]);
        const gathered = embedding(rec, rows, ids);
        rec.copy(gathered.buffer, 0, t.buffer, 0, t.byteLength);
        rec.disposeAfterSubmit(gathered);
      }
    }
    rec.disposeAfterSubmit(ids);
    rec.submit();
  }

  dispose(): void {
    for (const c of [...this.caches, ...this.cross]) c.k.dispose(), c.v.dispose();
    for (const t of [this.mask, this.stepIds, ...this.tokenBuffers, this.stepPos, this.kvLengths]) t.dispose();
  }
}

/** Word-start tokens already used `max` times in `ids` (a title so far). */
export function repeatedWordBans(ids: readonly number[], wordStarts: Uint8Array, max: number): number[] {
  const counts = new Map<number, number>();
  for (const id of ids) if (wordStarts[id]) counts.set(id, (counts.get(id) ?? 0) + 1);
  return [...counts].filter(([, c]) => c >= max).map(([id]) => id);
}

/** 1 for tokens that start a word of at least 3 letters (what the title repetition rule counts). */
export function wordStartTokens(tok: BpeTokenizer): Uint8Array {
  const out = new Uint8Array(tok.vocabSize);
  for (let id = 0; id < tok.vocabSize; id++) if (!tok.isSpecial(id) && /^ ?[A-Za-z]{3,}/.test(tok.decode([id]))) out[id] = 1;
  return out;
}

/** Tokens that would complete an n-gram already present in `ids` (no-repeat-n-gram blocking). */
export function repeatedNgramBans(ids: readonly number[], n: number): number[] {
  if (n < 1 || ids.length < n - 1) return [];
  const prefix = ids.slice(ids.length - (n - 1));
  const out: number[] = [];
  for (let i = 0; i + n - 1 < ids.length; i++) {
    let same = true;
    for (let j = 0; j < n - 1 && same; j++) same = ids[i + j] === prefix[j];
    if (same) out.push(ids[i + n - 1]);
  }
  return out;
}

/** Batch row b of a [B, N, D] tensor as a new [1, N, D] tensor. */
export function rowOf(ctx: GpuContext, t: Tensor, b: number): Tensor {
  const [, n, d] = t.shape;
  const out = ctx.empty([1, n, d], 'f32', 'row');
  const rec = ctx.recorder('row');
  rec.copy(t.buffer, b * n * d * 4, out.buffer, 0, n * d * 4);
  rec.submit();
  return out;
}

/** A [1, N, D] tensor repeated into `count` rows. */
function rowsOf(ctx: GpuContext, t: Tensor, count: number): Tensor {
  const [, n, d] = t.shape;
  const out = ctx.empty([count, n, d], 'f32', 'rows');
  const rec = ctx.recorder('rows');
  for (let b = 0; b < count; b++) rec.copy(t.buffer, 0, out.buffer, b * n * d * 4, n * d * 4);
  rec.submit();
  return out;
}
