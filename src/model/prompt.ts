/**
 * The hierarchical prompt: ONE format for training and inference.
 *
 *   <s> <attrs> name: value <sep> name: value ... <title> TITLE <desc> DESCRIPTION </s>
 *
 * Attributes are written as `name: value` pairs (underscores in names become spaces) in the fixed
 * order of the catalog's head layout, with facts (brand, user corrections) after the predicted
 * attributes in the order given. At inference an attribute under the confidence threshold is left
 * out; at training attributes are dropped at random (see src/train), so the decoder learns to work
 * from any subset. Everything up to and including <title> is the prompt; the decoder writes the
 * title, then <desc>, the description and </s>.
 */
import type { BpeTokenizer } from '../data/tokenizer.ts';

export interface PromptFact {
  name: string;
  value: string;
}

export function attributeLabel(name: string): string {
  return name.replace(/_/g, ' ');
}

/** Prompt token ids for the given facts, in the order given. */
export function encodePrompt(tok: BpeTokenizer, facts: readonly PromptFact[]): number[] {
  const ids = [tok.specialId('<s>'), tok.specialId('<attrs>')];
  facts.forEach((f, i) => {
    if (i > 0) ids.push(tok.specialId('<sep>'));
    ids.push(...tok.encode(`${attributeLabel(f.name)}: ${f.value}`));
  });
  ids.push(tok.specialId('<title>'));
  return ids;
}

/** The target the decoder learns to write after the prompt: title <desc> description </s>. */
export function encodeTarget(tok: BpeTokenizer, title: string, description: string | null): number[] {
  return [...tok.encode(title), tok.specialId('<desc>'), ...tok.encode(description ?? ''), tok.specialId('</s>')];
}

/** Split generated ids (after the prompt) into title and description text. */
export function decodeGenerated(tok: BpeTokenizer, ids: readonly number[]): { title: string; description: string } {
  const desc = tok.specialId('<desc>');
  const end = tok.specialId('</s>');
  const stop = ids.indexOf(end);
  const body = stop === -1 ? ids : ids.slice(0, stop);
  const split = body.indexOf(desc);
  const titleIds = split === -1 ? body : body.slice(0, split);
  const descIds = split === -1 ? [] : body.slice(split + 1);
  const description = tok.decode(descIds).trim();
  // Without its end token the text ran into the context's end: keep its complete sentences.
  return { title: tok.decode(titleIds).trim(), description: stop === -1 ? completeSentences(description) : description };
}

/** `text` up to its last sentence end (. ! ?, with closing quotes or brackets); all of it when there is none. */
export function completeSentences(text: string): string {
  const m = /^[\s\S]*[.!?]["')\]]*(?=\s|$)/.exec(text);
  return m ? m[0] : text;
}

/**
 * Facts for the prompt: predicted attributes at or above the threshold (in head order), with
 * user facts overriding predictions of the same attribute and appended when they are new.
 */
export function promptFacts(
  predicted: readonly { name: string; value: string; confidence: number }[],
  userFacts: readonly PromptFact[],
  threshold: number,
): PromptFact[] {
  const override = new Map(userFacts.map((f) => [f.name, f.value]));
  const out: PromptFact[] = [];
  for (const p of predicted) {
    if (override.has(p.name)) {
      out.push({ name: p.name, value: override.get(p.name)! });
      override.delete(p.name);
    } else if (p.confidence >= threshold) out.push({ name: p.name, value: p.value });
  }
  for (const [name, value] of override) out.push({ name, value });
  return out;
}
