/**
 * Byte-level BPE tokenizer (browser-safe): trained by the project on catalog text, saved and loaded
 * in the Hugging Face `tokenizer.json` format, so the `tokenizers` library (and transformers.js)
 * read our files and produce the same ids for plain text.
 *
 * Layout of the vocabulary: the special tokens first (ids 0..k-1, `<pad>` = 0), then the 256 bytes
 * (id k + byte), then one token per merge in merge order. Text is split with GPT-2's regex (the
 * ByteLevel pre-tokenizer with `use_regex: true`, no prefix space), each piece is turned into its
 * UTF-8 bytes, and merges are applied lowest rank first, leftmost first, exactly as HF does.
 * Every byte is a token, so there is no unknown token and `decode(encode(s)) === s` for any string
 * of valid Unicode (emoji, accents, CJK, control characters). Lone UTF-16 surrogates are not
 * Unicode scalar values: TextEncoder turns them into U+FFFD.
 *
 * `encode` treats its text literally: "<title>" written in a product description is ordinary text,
 * never a special token (HF would split it out as an added token), so listing text cannot inject
 * prompt structure. Prompts are built from ids: `tokenizer.specialId('<title>')`.
 *
 * Training (`BpeTokenizer.train`) counts pre-tokenized pieces once, then merges the most frequent
 * adjacent pair repeatedly, updating pair counts only for the words that contain the merged pair
 * (a max-heap with lazy deletion picks the next pair). Ties go to the pair with the smaller ids, so
 * training is deterministic and independent of text order. Encoding caches piece → ids.
 */
import { AtelierDataError } from './errors.ts';

/** The prompt-structure tokens every project tokenizer has, in id order. */
export const SPECIAL_TOKENS = ['<pad>', '<s>', '</s>', '<title>', '<desc>', '<attrs>', '<sep>', '<price>', '<img>'] as const;

/** GPT-2's pre-tokenizer regex, which HF's ByteLevel pre-tokenizer uses when `use_regex` is true. */
const PIECE = /'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+/gu;

/** Pair keys pack two ids below 2^20 into one safe integer. */
const PAIR_SHIFT = 2 ** 20;
const CACHE_LIMIT = 200_000;

/** GPT-2's byte → printable character table: bytes that are printable keep their character. */
const BYTE_TO_CHAR: string[] = (() => {
  const printable: number[] = [];
  for (let b = 0x21; b <= 0x7e; b++) printable.push(b);
  for (let b = 0xa1; b <= 0xac; b++) printable.push(b);
  for (let b = 0xae; b <= 0xff; b++) printable.push(b);
  const table: string[] = new Array(256);
  for (const b of printable) table[b] = String.fromCharCode(b);
  let next = 256;
  for (let b = 0; b < 256; b++) if (table[b] === undefined) table[b] = String.fromCharCode(next++);
  return table;
})();
const CHAR_TO_BYTE = new Map(BYTE_TO_CHAR.map((c, b) => [c, b]));

const utf8Encoder = new TextEncoder();
const utf8Decoder = new TextDecoder('utf-8');

export interface TokenizerTrainOptions {
  /** Total vocabulary size including special tokens and the 256 bytes (e.g. 2048–8192). */
  vocabSize: number;
  /** Special tokens, in id order; defaults to SPECIAL_TOKENS. */
  specialTokens?: readonly string[];
  /** Stop merging when the most frequent pair occurs fewer times than this (default 2). */
  minFrequency?: number;
}

/** The parts of HF's tokenizer.json that this tokenizer writes and reads. */
export interface HfTokenizerJson {
  version: string;
  truncation: null;
  padding: null;
  added_tokens: { id: number; content: string; single_word: boolean; lstrip: boolean; rstrip: boolean; normalized: boolean; special: boolean }[];
  normalizer: null;
  pre_tokenizer: { type: 'ByteLevel'; add_prefix_space: boolean; trim_offsets: boolean; use_regex: boolean };
  post_processor: null;
  decoder: { type: 'ByteLevel'; add_prefix_space: boolean; trim_offsets: boolean; use_regex: boolean };
  model: {
    type: 'BPE';
    dropout: null;
    unk_token: null;
    continuing_subword_prefix: null;
    end_of_word_suffix: null;
    fuse_unk: boolean;
    byte_fallback: boolean;
    ignore_merges: boolean;
    vocab: Record<string, number>;
    merges: string[];
  };
}

export class BpeTokenizer {
  /** id → token text: special tokens as written, other tokens in GPT-2's byte-character form. */
  private readonly tokens: string[];
  /** id → the bytes the token stands for (a special token: its UTF-8 text). */
  private readonly tokenBytes: Uint8Array[];
  private readonly specialIds: Map<string, number>;
  /** id of each byte value. */
  private readonly byteIds: Int32Array;
  /** pair key → rank * PAIR_SHIFT + merged id. */
  private readonly mergeTable: Map<number, number>;
  private readonly merges: [number, number][];
  private readonly cache = new Map<string, Int32Array>();

  private constructor(tokens: string[], specials: readonly string[], merges: [number, number][], mergedIds: number[]) {
    if (tokens.length >= PAIR_SHIFT) throw new AtelierDataError('tokenizer', `vocabulary of ${tokens.length} tokens exceeds the supported ${PAIR_SHIFT - 1}`);
    this.tokens = tokens;
    this.specialIds = new Map(specials.map((s) => [s, tokens.indexOf(s)]));
    this.byteIds = new Int32Array(256).fill(-1);
    this.tokenBytes = tokens.map((token, id) => {
      if (this.specialIds.get(token) === id) return utf8Encoder.encode(token);
      const bytes = new Uint8Array(token.length);
      for (let i = 0; i < token.length; i++) {
        const b = CHAR_TO_BYTE.get(token[i]);
        if (b === undefined) throw new AtelierDataError('tokenizer', `token ${JSON.stringify(token)} (id ${id}) is not in byte-level form`);
        bytes[i] = b;
      }
      if (bytes.length === 1 && this.byteIds[bytes[0]] === -1) this.byteIds[bytes[0]] = id;
      return bytes;
    });
    const missing = [...this.byteIds.keys()].filter((b) => this.byteIds[b] === -1);
    if (missing.length) throw new AtelierDataError('tokenizer', `vocabulary lacks ${missing.length} of the 256 byte tokens (e.g. byte ${missing[0]}), so some text could not be encoded`);
    this.merges = merges;
    this.mergeTable = new Map();
    merges.forEach(([a, b], rank) => {
      const key = a * PAIR_SHIFT + b;
      // A merge spelling a special token would let plain text produce it; HF never applies one
      // either, since it splits added tokens out before BPE.
      if (!this.mergeTable.has(key) && !this.isSpecial(mergedIds[rank])) this.mergeTable.set(key, rank * PAIR_SHIFT + mergedIds[rank]);
    });
  }

  get vocabSize(): number {
    return this.tokens.length;
  }
  get padId(): number {
    return this.specialId('<pad>');
  }
  get bosId(): number {
    return this.specialId('<s>');
  }
  get eosId(): number {
    return this.specialId('</s>');
  }
  get specialTokens(): string[] {
    return [...this.specialIds.keys()];
  }

  /** The id of a special token such as '<title>'; throws when this tokenizer does not have it. */
  specialId(token: string): number {
    const id = this.specialIds.get(token);
    if (id === undefined || id < 0) throw new AtelierDataError('tokenizer', `the tokenizer has no special token ${token} (it has ${this.specialTokens.join(' ')})`);
    return id;
  }

  isSpecial(id: number): boolean {
    return this.specialIds.get(this.tokens[id]) === id;
  }

  /** The token's text as stored in tokenizer.json. */
  tokenText(id: number): string {
    const token = this.tokens[id];
    if (token === undefined) throw new AtelierDataError('tokenizer', `token id ${id} is outside the vocabulary of ${this.tokens.length}`);
    return token;
  }

  /** Token ids of `text`, read literally (special-token text is ordinary text). */
  encode(text: string): number[] {
    const ids: number[] = [];
    for (const match of text.matchAll(PIECE)) {
      const piece = match[0];
      let pieceIds = this.cache.get(piece);
      if (pieceIds === undefined) {
        pieceIds = this.encodePiece(utf8Encoder.encode(piece));
        if (this.cache.size >= CACHE_LIMIT) this.cache.clear();
        this.cache.set(piece, pieceIds);
      }
      for (let i = 0; i < pieceIds.length; i++) ids.push(pieceIds[i]);
    }
    return ids;
  }

  /** The bytes `ids` stand for; special tokens are dropped unless `keepSpecial`. */
  decodeBytes(ids: ArrayLike<number>, keepSpecial = false): Uint8Array {
    let length = 0;
    for (let i = 0; i < ids.length; i++) {
      if (keepSpecial || !this.isSpecial(ids[i])) length += this.bytesOf(ids[i]).length;
    }
    const out = new Uint8Array(length);
    let offset = 0;
    for (let i = 0; i < ids.length; i++) {
      if (!keepSpecial && this.isSpecial(ids[i])) continue;
      const bytes = this.bytesOf(ids[i]);
      out.set(bytes, offset);
      offset += bytes.length;
    }
    return out;
  }

  /** Text of `ids` (special tokens dropped unless `keepSpecial`); a cut UTF-8 sequence becomes U+FFFD. */
  decode(ids: ArrayLike<number>, keepSpecial = false): string {
    return utf8Decoder.decode(this.decodeBytes(ids, keepSpecial));
  }

  private bytesOf(id: number): Uint8Array {
    const bytes = this.tokenBytes[id];
    if (bytes === undefined) throw new AtelierDataError('tokenizer', `token id ${id} is outside the vocabulary of ${this.tokens.length}`);
    return bytes;
  }

  /** Applies the merges to one piece: lowest rank first, leftmost first (a heap over live pairs). */
  private encodePiece(bytes: Uint8Array): Int32Array {
    const n = bytes.length;
    const symbols = new Int32Array(n);
    for (let i = 0; i < n; i++) symbols[i] = this.byteIds[bytes[i]];
    if (n < 2) return symbols;
    const next = new Int32Array(n);
    const prev = new Int32Array(n);
    for (let i = 0; i < n; i++) {
      next[i] = i + 1 < n ? i + 1 : -1;
      prev[i] = i - 1;
    }
    const heap = new PairQueue(lowestRankFirst);
    const push = (pos: number): void => {
      if (pos < 0 || next[pos] < 0) return;
      const right = next[pos];
      const merge = this.mergeTable.get(symbols[pos] * PAIR_SHIFT + symbols[right]);
      if (merge !== undefined) heap.push(Math.floor(merge / PAIR_SHIFT), pos);
    };
    for (let i = 0; i + 1 < n; i++) push(i);
    let length = n;
    while (heap.size > 0) {
      const [rank, pos] = heap.pop();
      const right = next[pos];
      if (symbols[pos] < 0 || right < 0) continue;
      const merge = this.mergeTable.get(symbols[pos] * PAIR_SHIFT + symbols[right]);
      if (merge === undefined || Math.floor(merge / PAIR_SHIFT) !== rank) continue;
      symbols[pos] = merge % PAIR_SHIFT;
      symbols[right] = -1;
      next[pos] = next[right];
      if (next[right] >= 0) prev[next[right]] = pos;
      length--;
      push(prev[pos]);
      push(pos);
    }
    const out = new Int32Array(length);
    for (let i = 0, k = 0; i >= 0; i = next[i]) out[k++] = symbols[i];
    return out;
  }

  /** The Hugging Face tokenizer.json object (JSON.stringify it to save). */
  toJSON(): HfTokenizerJson {
    const vocab: Record<string, number> = {};
    this.tokens.forEach((t, id) => (vocab[t] = id));
    return {
      version: '1.0',
      truncation: null,
      padding: null,
      added_tokens: [...this.specialIds].map(([content, id]) => ({ id, content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true })),
      normalizer: null,
      pre_tokenizer: { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true },
      post_processor: null,
      decoder: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: true, use_regex: true },
      model: {
        type: 'BPE',
        dropout: null,
        unk_token: null,
        continuing_subword_prefix: null,
        end_of_word_suffix: null,
        fuse_unk: false,
        byte_fallback: false,
        ignore_merges: false,
        vocab,
        merges: this.merges.map(([a, b]) => `${this.tokens[a]} ${this.tokens[b]}`),
      },
    };
  }

  /**
   * Reads a tokenizer.json (text or parsed) written by `toJSON` or by HF for a byte-level BPE
   * without normalizer; merges may be "a b" strings or [a, b] pairs. Anything else is refused with
   * the reason, since silently encoding differently from the file's author would be worse.
   */
  static fromJSON(json: string | unknown): BpeTokenizer {
    const fail = (why: string): never => {
      throw new AtelierDataError('tokenizer', `not a byte-level BPE tokenizer.json this project can use: ${why}`);
    };
    let data: unknown = json;
    if (typeof json === 'string') {
      try {
        data = JSON.parse(json);
      } catch (e) {
        fail(`invalid JSON (${(e as Error).message})`);
      }
    }
    const file = data as Partial<HfTokenizerJson> | null;
    if (!file || typeof file !== 'object') return fail('not a JSON object');
    const model = file.model;
    if (!model || model.type !== 'BPE') return fail(`model.type is ${JSON.stringify(model?.type)}, expected "BPE"`);
    if (file.pre_tokenizer?.type !== 'ByteLevel' || file.pre_tokenizer.use_regex === false || file.pre_tokenizer.add_prefix_space) {
      return fail('the pre-tokenizer must be ByteLevel with use_regex and without add_prefix_space');
    }
    if (file.normalizer) return fail('normalizers are not supported');
    if (model.continuing_subword_prefix || model.end_of_word_suffix) return fail('subword prefixes/suffixes are not supported');
    const tokens: string[] = [];
    for (const [token, id] of Object.entries(model.vocab ?? {})) {
      if (!Number.isInteger(id) || id < 0) return fail(`vocab id of ${JSON.stringify(token)} is not a non-negative integer`);
      if (tokens[id] !== undefined) return fail(`vocab id ${id} is used twice`);
      tokens[id] = token;
    }
    for (const added of file.added_tokens ?? []) {
      if (tokens[added.id] !== undefined && tokens[added.id] !== added.content) return fail(`added token ${added.content} clashes with vocab id ${added.id}`);
      tokens[added.id] = added.content;
    }
    for (let id = 0; id < tokens.length; id++) if (tokens[id] === undefined) return fail(`vocab ids are not contiguous (no token has id ${id})`);
    const idOf = new Map(tokens.map((t, id) => [t, id]));
    const specials = (file.added_tokens ?? []).filter((t) => t.special).map((t) => t.content);
    const merges: [number, number][] = [];
    const mergedIds: number[] = [];
    for (const entry of (model.merges ?? []) as (string | [string, string])[]) {
      const [left, right] = typeof entry === 'string' ? splitMerge(entry) : entry;
      const a = idOf.get(left);
      const b = idOf.get(right);
      const merged = idOf.get(left + right);
      if (a === undefined || b === undefined || merged === undefined) return fail(`merge ${JSON.stringify(entry)} uses tokens that are not in the vocab`);
      merges.push([a, b]);
      mergedIds.push(merged);
    }
    return new BpeTokenizer(tokens, specials, merges, mergedIds);
  }

  /** Trains on `texts` (titles, descriptions, attribute values...). See the file comment. */
  static train(texts: Iterable<string>, options: TokenizerTrainOptions): BpeTokenizer {
    const specials = [...(options.specialTokens ?? SPECIAL_TOKENS)];
    const minFrequency = options.minFrequency ?? 2;
    const base = specials.length + 256;
    if (!Number.isInteger(options.vocabSize) || options.vocabSize < base || options.vocabSize >= PAIR_SHIFT) {
      throw new AtelierDataError('config', `vocabulary size must be an integer from ${base} (specials + 256 bytes) to ${PAIR_SHIFT - 1}, got ${options.vocabSize}`);
    }
    if (new Set(specials).size !== specials.length) throw new AtelierDataError('config', `special tokens repeat: ${specials.join(' ')}`);
    const clash = specials.find((t) => t.length === 1 && CHAR_TO_BYTE.has(t));
    if (clash !== undefined) throw new AtelierDataError('config', `special token ${JSON.stringify(clash)} is also a byte token; use a longer name`);

    const tokens = [...specials, ...BYTE_TO_CHAR];
    const tokenId = new Map(tokens.map((t, id) => [t, id]));
    /** Pairs whose merge would spell a special token: never merged, so text cannot produce one. */
    const forbidden = new Set<number>();
    const pieceCounts = new Map<string, number>();
    for (const text of texts) {
      for (const match of text.matchAll(PIECE)) pieceCounts.set(match[0], (pieceCounts.get(match[0]) ?? 0) + 1);
    }
    const words: Int32Array[] = [];
    const freq: number[] = [];
    for (const [piece, count] of pieceCounts) {
      const bytes = utf8Encoder.encode(piece);
      if (bytes.length < 2) continue;
      words.push(Int32Array.from(bytes, (b) => specials.length + b));
      freq.push(count);
    }
    pieceCounts.clear();

    const pairCount = new Map<number, number>();
    /** pair key → indices of words that contained it when it was counted (may repeat or be stale). */
    const pairWords = new Map<number, number[]>();
    const heap = new PairQueue(mostFrequentFirst);
    const note = (key: number, word: number): void => {
      const list = pairWords.get(key);
      if (list) list.push(word);
      else pairWords.set(key, [word]);
    };
    words.forEach((w, wi) => {
      for (let i = 0; i + 1 < w.length; i++) {
        const key = w[i] * PAIR_SHIFT + w[i + 1];
        pairCount.set(key, (pairCount.get(key) ?? 0) + freq[wi]);
        note(key, wi);
      }
    });
    for (const [key, count] of pairCount) heap.push(count, key);

    const merges: [number, number][] = [];
    const mergedIds: number[] = [];
    const visited = new Int32Array(words.length).fill(-1);
    const delta = new Map<number, number>();
    while (tokens.length < options.vocabSize && heap.size > 0) {
      const [count, key] = heap.pop();
      const current = pairCount.get(key) ?? 0;
      if (current !== count) {
        if (current > 0) heap.push(current, key);
        continue;
      }
      if (count < minFrequency) break;
      const a = Math.floor(key / PAIR_SHIFT);
      const b = key % PAIR_SHIFT;
      const text = tokens[a] + tokens[b];
      if (forbidden.has(key)) continue;
      if (specials.includes(text)) {
        forbidden.add(key);
        continue;
      }
      let id = tokenId.get(text);
      if (id === undefined) {
        id = tokens.length;
        tokens.push(text);
        tokenId.set(text, id);
      }
      const rank = merges.length;
      merges.push([a, b]);
      mergedIds.push(id);

      delta.clear();
      for (const wi of pairWords.get(key) ?? []) {
        if (visited[wi] === rank) continue;
        visited[wi] = rank;
        const word = words[wi];
        let found = false;
        for (let i = 0; i + 1 < word.length; i++) if (word[i] === a && word[i + 1] === b) found = true;
        if (!found) continue;
        const merged: number[] = [];
        for (let i = 0; i < word.length; i++) {
          if (i + 1 < word.length && word[i] === a && word[i + 1] === b) {
            merged.push(id);
            i++;
          } else merged.push(word[i]);
        }
        const f = freq[wi];
        for (let i = 0; i + 1 < word.length; i++) {
          const k = word[i] * PAIR_SHIFT + word[i + 1];
          delta.set(k, (delta.get(k) ?? 0) - f);
        }
        for (let i = 0; i + 1 < merged.length; i++) {
          const k = merged[i] * PAIR_SHIFT + merged[i + 1];
          delta.set(k, (delta.get(k) ?? 0) + f);
          if (merged[i] === id || merged[i + 1] === id) note(k, wi);
        }
        words[wi] = Int32Array.from(merged);
      }
      for (const [k, d] of delta) {
        if (d === 0) continue;
        const updated = (pairCount.get(k) ?? 0) + d;
        if (updated > 0) pairCount.set(k, updated);
        else pairCount.delete(k);
        if (d > 0) heap.push(updated, k);
      }
      pairWords.delete(key);
    }
    return new BpeTokenizer(tokens, specials, merges, mergedIds);
  }
}

/** Splits an HF merge string "a b"; byte-level tokens never contain a space. */
function splitMerge(entry: string): [string, string] {
  const space = entry.indexOf(' ');
  return space <= 0 ? [entry, ''] : [entry.slice(0, space), entry.slice(space + 1)];
}

/**
 * A binary heap of number pairs stored in two parallel arrays; `before(x1, x2, y1, y2)` is true
 * when the pair (x1, x2) must come out before (y1, y2).
 */
class PairQueue {
  private first: number[] = [];
  private second: number[] = [];
  constructor(private readonly before: (x1: number, x2: number, y1: number, y2: number) => boolean) {}

  get size(): number {
    return this.first.length;
  }

  push(x: number, y: number): void {
    let i = this.first.length;
    this.first.push(x);
    this.second.push(y);
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!this.precedes(i, parent)) break;
      this.swap(i, parent);
      i = parent;
    }
  }

  pop(): [number, number] {
    const top: [number, number] = [this.first[0], this.second[0]];
    const last = this.first.length - 1;
    this.swap(0, last);
    this.first.pop();
    this.second.pop();
    for (let i = 0; ; ) {
      const l = 2 * i + 1;
      let best = i;
      if (l < last && this.precedes(l, best)) best = l;
      if (l + 1 < last && this.precedes(l + 1, best)) best = l + 1;
      if (best === i) break;
      this.swap(i, best);
      i = best;
    }
    return top;
  }

  private precedes(i: number, j: number): boolean {
    return this.before(this.first[i], this.second[i], this.first[j], this.second[j]);
  }

  private swap(i: number, j: number): void {
    const f = this.first[i];
    this.first[i] = this.first[j];
    this.first[j] = f;
    const s = this.second[i];
    this.second[i] = this.second[j];
    this.second[j] = s;
  }
}

/** Merges inside a piece: the lowest rank first, then the leftmost position. */
const lowestRankFirst = (rank1: number, pos1: number, rank2: number, pos2: number): boolean => rank1 < rank2 || (rank1 === rank2 && pos1 < pos2);
/** Training: the most frequent pair first, ties to the smaller pair key (smaller ids). */
const mostFrequentFirst = (count1: number, key1: number, count2: number, key2: number): boolean => count1 > count2 || (count1 === count2 && key1 < key2);

/** The texts a catalog contributes to tokenizer training: titles, descriptions, brands and "name: value" attribute lines. */
export function* catalogTexts(items: Iterable<{ title: string; description: string | null; brand: string | null; attributes: Record<string, string> }>): Generator<string> {
  for (const item of items) {
    yield item.title;
    if (item.description) yield item.description;
    if (item.brand) yield item.brand;
    for (const [name, value] of Object.entries(item.attributes)) yield `${name}: ${value}`;
  }
}
