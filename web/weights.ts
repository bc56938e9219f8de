/**
 * Weights for the page: a weights folder (model.json, model.safetensors, tokenizer.json, see
 * src/model/bundle.ts) fetched over HTTP. The default is the build's copy of weights/ beside the
 * page; `?weights=URL` (a folder, or its model.json; relative to the page) picks another.
 */
import { parseModelBundle, type ModelBundle } from '../src/model/bundle.ts';

/** Where the weights came from and what went wrong, for the message the page shows. */
export class WeightsLoadError extends Error {
  constructor(
    /** The URL of the file that failed (model.json, the weights or the tokenizer). */
    readonly file: string,
    readonly reason: string,
  ) {
    super(`${file}: ${reason}`);
  }
}

/** The manifest's URL for a `?weights=` value: a folder gets model.json appended. */
export function manifestUrl(weights: string | null, page: string): URL {
  const url = new URL(weights || './weights/', page);
  if (!url.pathname.endsWith('.json')) url.pathname = url.pathname.replace(/\/?$/, '/model.json');
  return url;
}

export type Progress = (file: string, loaded: number, total: number | null) => void;

async function fetchOk(url: URL): Promise<Response> {
  let response: Response;
  try {
    response = await fetch(url);
  } catch (e) {
    throw new WeightsLoadError(url.href, `could not be fetched (${(e as Error).message}); is the server up and the URL right?`);
  }
  if (!response.ok) throw new WeightsLoadError(url.href, `HTTP ${response.status} ${response.statusText || ''}`.trim());
  return response;
}

async function fetchJson(url: URL): Promise<unknown> {
  const response = await fetchOk(url);
  const text = await response.text();
  try {
    return JSON.parse(text);
  } catch (e) {
    // Hosts that serve single-page apps answer a missing file with their index page.
    const html = response.headers.get('content-type')?.includes('text/html') ? '; the server sent an HTML page, so the file is probably missing' : '';
    throw new WeightsLoadError(url.href, `is not valid JSON (${(e as Error).message})${html}`);
  }
}

/** The body's bytes, reporting progress as they arrive (weights are megabytes). */
async function fetchBytes(url: URL, progress: Progress): Promise<Uint8Array> {
  const response = await fetchOk(url);
  const length = Number(response.headers.get('content-length')) || null;
  if (!response.body) return new Uint8Array(await response.arrayBuffer());
  const chunks: Uint8Array[] = [];
  let loaded = 0;
  const reader = response.body.getReader();
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      chunks.push(value);
      loaded += value.length;
      progress(url.href, loaded, length);
    }
  } catch (e) {
    throw new WeightsLoadError(url.href, `the download broke off after ${loaded} bytes (${(e as Error).message})`);
  }
  const bytes = new Uint8Array(loaded);
  let offset = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, offset);
    offset += chunk.length;
  }
  return bytes;
}

/** Fetches and checks a weights folder. Every failure is a WeightsLoadError naming the file. */
export async function loadWeights(manifest: URL, progress: Progress): Promise<ModelBundle> {
  const manifestJson = await fetchJson(manifest);
  const files = (manifestJson as { files?: { weights?: unknown; tokenizer?: unknown } } | null)?.files;
  if (typeof files?.weights !== 'string' || typeof files?.tokenizer !== 'string') {
    throw new WeightsLoadError(manifest.href, 'is not an atelier-model manifest (it names no weights and tokenizer files)');
  }
  const weightsUrl = new URL(files.weights, manifest);
  const tokenizerUrl = new URL(files.tokenizer, manifest);
  const [weights, tokenizer] = await Promise.all([fetchBytes(weightsUrl, progress), fetchJson(tokenizerUrl)]);
  const folder = new URL('.', manifest).href.replace(/\/$/, '');
  try {
    return parseModelBundle(manifestJson, weights, tokenizer, folder);
  } catch (e) {
    // The format errors name the file themselves (folder/model.json, folder/model.safetensors, ...).
    const message = (e as Error).message;
    const named = [manifest, weightsUrl, tokenizerUrl].find((u) => message.startsWith(u.href));
    throw new WeightsLoadError(named?.href ?? folder, named ? message.slice(named.href.length).replace(/^[:\s]+/, '') : message);
  }
}
