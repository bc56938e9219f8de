import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_NORMALISE, fitImage, normaliseBatch } from '../../src/data/preprocess.ts';
import type { ModelBundle } from '../../src/model/bundle.ts';
import { backboneForward, decoderForward, decoderMemory, headLogits, type Weights } from '../../src/model/graph.ts';
import { ListingModel, repeatedNgramBans, repeatedWordBans, rowOf } from '../../src/model/listing-model.ts';
import { completeSentences, decodeGenerated } from '../../src/model/prompt.ts';
import { encodePrompt, type PromptFact } from '../../src/model/prompt.ts';
import { tensorOps } from '../../src/model/tensor-ops.ts';
import { host, referenceOps, type HostTensor } from '../../src/reference/model-ops.ts';
import { softmaxRef } from '../../src/reference/softmax.ts';
import type { GpuContext } from '../../src/runtime/gpu.ts';
import { fromF16Array, toF16Array } from '../../src/runtime/dtype.ts';
import type { Tensor } from '../../src/runtime/tensor.ts';
import { maxRelErr, useGpu } from '../helpers/gpu.ts';
import { randomImage, tinyBundle } from './fixtures.ts';

// Tolerances: f32 GPU against float64 CPU through a few layers of matmul/layernorm/attention.
const ATOL = 2e-4;
const RTOL = 2e-3;

describe('listing model on the GPU', () => {
  const gpu = useGpu();
  let bundle: ModelBundle;
  let model: ListingModel;
  let hostW: Weights<HostTensor>;
  const images = [randomImage(40, 60, 1), randomImage(60, 80, 2), randomImage(30, 30, 3)];

  beforeAll(() => {
    bundle = tinyBundle(7);
    model = ListingModel.load(gpu(), bundle);
    hostW = (name) => {
      const p = bundle.params.get(name);
      if (!p) throw new Error(`no ${name}`);
      return host(p.shape, p.data);
    };
  });
  afterAll(() => model?.dispose());

  function preprocessed(): HostTensor {
    const { imageWidth: W, imageHeight: H } = bundle.config.backbone;
    const pixels = new Uint8Array(images.length * W * H * 3);
    images.forEach((img, i) => fitImage(img, { width: W, height: H, background: [255, 255, 255] }, pixels.subarray(i * W * H * 3, (i + 1) * W * H * 3)));
    return host([images.length, H, W, 3], normaliseBatch(pixels, images.length, { width: W, height: H }, DEFAULT_NORMALISE));
  }

  it('backbone tokens and pooled embedding match the CPU reference', async () => {
    const ref = backboneForward(referenceOps(new Map()), hostW, bundle.config, preprocessed());
    const { tokens, pooled } = await model.encode(images);
    expect(tokens.shape).toEqual(ref.tokens.shape);
    expect(maxRelErr(await tokens.read(), ref.tokens.data, ATOL, RTOL)).toBeLessThanOrEqual(1);
    expect(maxRelErr(await pooled.read(), ref.pooled.data, ATOL, RTOL)).toBeLessThanOrEqual(1);
    tokens.dispose();
    pooled.dispose();
  });

  it('the fused head equals separate per-attribute heads (softmax per head, argmax, confidence)', async () => {
    const ref = backboneForward(referenceOps(new Map()), hostW, bundle.config, preprocessed());
    const logits = headLogits(referenceOps(new Map()), hostW, 'myntra', ref.pooled);
    const { tokens, pooled } = await model.encode(images);
    const rows = await model.classify('myntra', pooled);
    tokens.dispose();
    pooled.dispose();
    const width = logits.shape[1];
    const head = bundle.catalogs[0].head;
    rows.forEach((row, b) => {
      let offset = 0;
      for (const a of head.attributes) {
        const probs = softmaxRef(logits.data.subarray(b * width + offset, b * width + offset + a.values.length), a.values.length);
        const best = probs.indexOf(Math.max(...probs));
        expect(row.attributes[a.name].value).toBe(a.values[best]);
        expect(row.attributes[a.name].confidence).toBeCloseTo(probs[best], 4);
        offset += a.values.length;
      }
      const scaler = bundle.catalogs[0].price;
      const outs = [0, 1, 2].map((i) => scaler.price(logits.data[b * width + offset + i]));
      expect(row.price.value).toBeCloseTo(outs[0], 2);
      expect(row.price.low).toBeLessThanOrEqual(row.price.value);
      expect(row.price.high).toBeGreaterThanOrEqual(row.price.value);
    });
  });

  it('the teacher-forced decoder matches the CPU reference', async () => {
    const ctx = gpu();
    const tok = bundle.tokenizer;
    const prompt = encodePrompt(tok, [{ name: 'base_colour', value: 'Red' }]);
    const seq = [...prompt, ...tok.encode('Men Red Cotton T-shirt')];
    const L = seq.length;
    const ref = backboneForward(referenceOps(new Map()), hostW, bundle.config, preprocessed());
    const { tokens, pooled } = await model.encode(images);
    pooled.dispose();
    const idsHost = images.flatMap(() => seq);
    const posHost = images.flatMap(() => seq.map((_, i) => i));
    const ids = ctx.tensor(Uint32Array.from(idsHost), [images.length, L], 'u32');
    const pos = ctx.tensor(Uint32Array.from(posHost), [images.length, L], 'u32');
    const rops = referenceOps(new Map<Tensor, number[]>([[ids, idsHost], [pos, posHost]]));
    const want = decoderForward(rops, hostW, bundle.config, ids, pos, decoderMemory(rops, hostW, ref.tokens));
    const rec = ctx.recorder('teacher-forced');
    const got = gpuDecoderForward(ctx, rec, bundle, ids, pos, tokens);
    rec.submit();
    expect(got.shape).toEqual(want.shape);
    expect(maxRelErr(await got.read(), want.data, ATOL, RTOL)).toBeLessThanOrEqual(1);
    for (const t of [got, ids, pos, tokens]) t.dispose();
  });

  it('a decode step is 9 dispatches per layer plus the embedding and the output projection, and one for the pick', async () => {
    const ctx = gpu();
    const counts = new Map<string, number[]>();
    const open = ctx.recorder.bind(ctx);
    ctx.recorder = (label: string) => {
      const rec = open(label);
      const submit = rec.submit.bind(rec);
      rec.submit = () => {
        counts.set(label, [...(counts.get(label) ?? []), rec.dispatchCount]);
        return submit();
      };
      return rec;
    };
    try {
      const { tokens, pooled } = await model.encode(images.slice(0, 1));
      pooled.dispose();
      await model.generate('myntra', tokens, [[]], { grounding: 'off', maxNewTokens: 6, stopAtEos: false });
      tokens.dispose();
    } finally {
      ctx.recorder = open;
    }
    // layernorm inside the matvec, residual adds as epilogues, q/k/v as column views: per layer the
    // QKV matvec, KV append, self-attention, output projection, cross q, cross-attention, its output
    // projection, fc1 and fc2.
    const layers = bundle.config.decoder.layers;
    expect(new Set(counts.get('decode'))).toEqual(new Set([9 * layers + 2]));
    expect(new Set(counts.get('decode-pick'))).toEqual(new Set([1]));
  });

  it('decoding with the KV cache gives exactly the tokens of decoding without it', async () => {
    const ctx = gpu();
    const facts: PromptFact[][] = [[{ name: 'base_colour', value: 'Blue' }], [{ name: 'gender', value: 'Women' }, { name: 'sleeve_length', value: 'Long Sleeves' }], []];
    const { tokens, pooled } = await model.encode(images);
    pooled.dispose();
    const cached = await model.generate('myntra', tokens, facts, { grounding: 'off', noRepeatNgram: 0, maxNewTokens: 12 });
    // Without a cache: the whole prefix through the teacher-forced decoder at every step, one row at a time.
    for (let b = 0; b < images.length; b++) {
      const rowTokens = rowOf(ctx, tokens, b);
      const seq = encodePrompt(bundle.tokenizer, facts[b]);
      const produced: number[] = [];
      for (let step = 0; step < cached[b].ids.length; step++) {
        const ids = ctx.tensor(Uint32Array.from(seq), [1, seq.length], 'u32');
        const pos = ctx.tensor(Uint32Array.from(seq.map((_, i) => i)), [1, seq.length], 'u32');
        const rec = ctx.recorder('no-cache');
        const logits = gpuDecoderForward(ctx, rec, bundle, ids, pos, rowTokens);
        rec.submit();
        const all = (await logits.read()) as Float32Array;
        const V = bundle.config.decoder.vocabSize;
        const last = all.subarray((seq.length - 1) * V, seq.length * V);
        let best = 0;
        for (let i = 1; i < V; i++) if (last[i] > last[best]) best = i;
        produced.push(best);
        seq.push(best);
        for (const t of [logits, ids, pos]) t.dispose();
      }
      rowTokens.dispose();
      expect(cached[b].ids.length).toBeGreaterThan(0);
      expect(produced).toEqual(cached[b].ids);
    }
    tokens.dispose();
  });

  it('a batch decodes each row exactly as it decodes alone (ragged prompts)', async () => {
    const facts: PromptFact[][] = [[{ name: 'base_colour', value: 'Green' }], [{ name: 'gender', value: 'Men' }, { name: 'sleeve_length', value: 'Sleeveless' }, { name: 'base_colour', value: 'Black' }]];
    const two = images.slice(0, 2);
    const { tokens, pooled } = await model.encode(two);
    pooled.dispose();
    const batched = await model.generate('myntra', tokens, facts, { grounding: 'off', maxNewTokens: 10 });
    tokens.dispose();
    for (let b = 0; b < two.length; b++) {
      const single = await model.encode([two[b]]);
      single.pooled.dispose();
      const alone = await model.generate('myntra', single.tokens, [facts[b]], { grounding: 'off', maxNewTokens: 10 });
      single.tokens.dispose();
      expect(alone[0].ids).toEqual(batched[b].ids);
    }
  });

  it('beam search finds a continuation at least as likely as greedy decoding (same length)', async () => {
    const ctx = gpu();
    const facts: PromptFact[] = [{ name: 'base_colour', value: 'Red' }];
    const { tokens, pooled } = await model.encode(images.slice(0, 1));
    pooled.dispose();
    const steps = 6;
    const [greedy] = await model.generate('myntra', tokens, [facts], { grounding: 'off', noRepeatNgram: 0, maxNewTokens: steps, stopAtEos: false });
    const [beam] = await model.generate('myntra', tokens, [facts], { grounding: 'off', noRepeatNgram: 0, maxNewTokens: steps, beams: 4 });
    // Score both continuations with the teacher-forced decoder (no cache).
    const score = async (cont: number[]) => {
      const seq = [...encodePrompt(bundle.tokenizer, facts), ...cont];
      const ids = ctx.tensor(Uint32Array.from(seq), [1, seq.length], 'u32');
      const pos = ctx.tensor(Uint32Array.from(seq.map((_, i) => i)), [1, seq.length], 'u32');
      const rec = ctx.recorder('score');
      const logits = gpuDecoderForward(ctx, rec, bundle, ids, pos, tokens);
      rec.submit();
      const all = (await logits.read()) as Float32Array;
      for (const t of [logits, ids, pos]) t.dispose();
      const V = bundle.config.decoder.vocabSize;
      const start = seq.length - cont.length;
      let total = 0;
      for (let i = 0; i < cont.length; i++) {
        const row = all.subarray((start + i - 1) * V, (start + i) * V);
        const max = Math.max(...row);
        const logZ = max + Math.log(row.reduce((s, v) => s + Math.exp(v - max), 0));
        total += row[cont[i]] - logZ;
      }
      return total;
    };
    expect(beam.ids.length).toBeGreaterThan(0);
    if (beam.ids.length === greedy.ids.length) expect(await score(beam.ids)).toBeGreaterThanOrEqual((await score(greedy.ids)) - 1e-3);
    tokens.dispose();
  });

  it('f16 weights (where the adapter has shader-f16) give the f32 results within f16 precision', async () => {
    const ctx = gpu();
    if (!ctx.features.f16) return; // the f32 path is the one every other test runs
    const half = ListingModel.load(ctx, bundle, { weights: 'f16' });
    try {
      const [a, b] = [await model.encode(images), await half.encode(images)];
      expect(maxRelErr(await b.tokens.read(), await a.tokens.read(), 2e-2, 2e-2)).toBeLessThanOrEqual(1);
      const [ra, rb] = [await model.classify('myntra', a.pooled), await half.classify('myntra', b.pooled)];
      ra.forEach((row, i) => {
        for (const [name, p] of Object.entries(row.attributes)) expect(Math.abs(rb[i].attributes[name].confidence - p.confidence)).toBeLessThan(2e-2);
      });
      for (const t of [a.tokens, a.pooled, b.tokens, b.pooled]) t.dispose();
    } finally {
      half.dispose();
    }
  });

  it('auto precision takes f16 matmul weights only where f16 holds them exactly', () => {
    const ctx = gpu();
    const name = 'decoder.blocks.0.self.qkv.weight';
    expect(model.weight(name).dtype).toBe('f32'); // random f32 weights: f16 would round them
    const rounded: ModelBundle = { ...bundle, params: new Map([...bundle.params].map(([n, p]) => [n, { ...p, data: fromF16Array(toF16Array(p.data)) }])) };
    const auto = ListingModel.load(ctx, rounded);
    try {
      expect(auto.weight(name).dtype).toBe(ctx.features.f16 ? 'f16' : 'f32');
      expect(auto.weight('decoder.blocks.0.ln1.gamma').dtype).toBe('f32'); // norms stay f32
    } finally {
      auto.dispose();
    }
  });

  it('no-repeat-n-gram blocking: the bans, and generated ids without a repeated trigram', async () => {
    expect(repeatedNgramBans([1, 2, 3, 1, 2], 3)).toEqual([3]);
    expect(repeatedNgramBans([5, 5, 5], 2)).toEqual([5, 5]);
    expect(repeatedNgramBans([1, 2], 0)).toEqual([]);
    const { tokens, pooled } = await model.encode(images.slice(0, 2));
    pooled.dispose();
    const out = await model.generate('myntra', tokens, [[], []], { grounding: 'off', maxNewTokens: 40, stopAtEos: false });
    tokens.dispose();
    for (const { ids } of out) {
      const seen = new Set<string>();
      for (let i = 0; i + 3 <= ids.length; i++) {
        const key = ids.slice(i, i + 3).join(',');
        expect(seen.has(key)).toBe(false);
        seen.add(key);
      }
    }
  });

  it('title repetition: a word-start token used twice is banned in the title, and generated titles never hold one 3 times', async () => {
    const starts = new Uint8Array(10);
    starts[4] = starts[7] = 1;
    expect(repeatedWordBans([4, 1, 4, 7, 1, 1], starts, 2)).toEqual([4]); // 1 is not a word start
    expect(repeatedWordBans([4, 7], starts, 2)).toEqual([]);
    const { tokens, pooled } = await model.encode(images.slice(0, 2));
    pooled.dispose();
    const out = await model.generate('myntra', tokens, [[], []], { grounding: 'off', maxNewTokens: 30, maxTitleTokens: 24, stopAtEos: false });
    tokens.dispose();
    const desc = model.bundle.tokenizer.specialId('<desc>');
    for (const { ids } of out) {
      const title = ids.indexOf(desc) === -1 ? ids : ids.slice(0, ids.indexOf(desc));
      const counts = new Map<number, number>();
      for (const id of title) if (model.wordStarts[id]) counts.set(id, (counts.get(id) ?? 0) + 1);
      for (const c of counts.values()) expect(c).toBeLessThanOrEqual(2);
    }
  });

  it('a text cut by the context keeps its complete sentences; one that ended keeps everything', () => {
    expect(completeSentences('A red shirt. Made of cotton! It has a collar and')).toBe('A red shirt. Made of cotton!');
    expect(completeSentences('He said "fine." Then')).toBe('He said "fine."');
    expect(completeSentences('no sentence end at all')).toBe('no sentence end at all');
    expect(completeSentences('version 2.5 is')).toBe('version 2.5 is'); // a dot inside a number is no sentence end
    const tok = model.bundle.tokenizer;
    const ids = [...tok.encode('Shirt'), tok.specialId('<desc>'), ...tok.encode('A shirt. It is')];
    expect(decodeGenerated(tok, ids).description).toBe('A shirt.');
    expect(decodeGenerated(tok, [...ids, tok.specialId('</s>')]).description).toBe('A shirt. It is');
  });

  it('list() returns a complete listing per image and reuses pooled buffers across calls', async () => {
    const ctx = gpu();
    await model.list(images.slice(0, 1), { maxNewTokens: 8 });
    const created = ctx.storagePool.getStats().created;
    const [listing] = await model.list(images.slice(0, 1), { maxNewTokens: 8 });
    expect(ctx.storagePool.getStats().created).toBe(created);
    expect(Object.keys(listing.attributes).sort()).toEqual(['base_colour', 'gender', 'sleeve_length']);
    expect(Number.isFinite(listing.price.value)).toBe(true);
    expect(typeof listing.title).toBe('string');
    for (const k of ['backbone_ms', 'heads_ms', 'prefill_ms', 'decode_ms']) expect(listing.timings_ms[k]).toBeGreaterThanOrEqual(0);
  });
});

/** decoderForward on the GPU with the model's weights (memory projected from the image tokens). */
function gpuDecoderForward(ctx: GpuContext, rec: ReturnType<GpuContext['recorder']>, bundle: ModelBundle, ids: Tensor, pos: Tensor, imageTokens: Tensor): Tensor {
  const weights = new Map<string, Tensor>();
  const w: Weights<Tensor> = (name) => {
    let t = weights.get(name);
    if (!t) {
      const p = bundle.params.get(name)!;
      t = ctx.tensor(p.data, p.shape, 'f32', name);
      weights.set(name, t);
    }
    return t;
  };
  // Upload every weight before recording, so uploads do not interleave with the pass.
  for (const name of bundle.params.keys()) if (name.startsWith('decoder.')) w(name);
  const ops = tensorOps(rec, new Set([...weights.values(), imageTokens]));
  const memory = decoderMemory(ops, w, imageTokens);
  const logits = decoderForward(ops, w, bundle.config, ids, pos, memory);
  memory.dispose();
  rec.onSubmitted(() => weights.forEach((t) => t.dispose()));
  return logits;
}
