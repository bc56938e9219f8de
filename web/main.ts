/**
 * The demo page: the engine on this browser's WebGPU, the listing model from a weights folder, and
 * a listing for the seller's photo, streamed token by token, with editable facts, grounding, timings
 * and exports.
 *
 * URL options: `?weights=URL` (a weights folder or its model.json, relative to the page; default the
 * build's ./weights/), `?max-tokens=N` (tokens generated per listing, default 96).
 * The page's state is published as `window.__atelier` (read by test/browser/).
 */
import type { CatalogSchema } from '../src/model/bundle.ts';
import { ListingModel } from '../src/model/listing-model.ts';
import type { Listing } from '../src/model/listing.ts';
import { EngineStartError, showStatus, startEngine } from './engine.ts';
import { copyText, csvFileName, download, listingCsv, listingRecord } from './export.ts';
import { buildFactFields, readFacts, resetCorrections, showPredictions } from './facts.ts';
import { renderAttributes, renderGrounding, renderMarkedText, renderPrice, renderTimings } from './listing-view.ts';
import { decodePhoto, drawPreview, pixelChecksum, PhotoError, type Photo } from './photo.ts';
import { loadWeights, manifestUrl, WeightsLoadError } from './weights.ts';

/** What the page is doing, for tests and for anyone debugging it from the console. */
export interface PageState {
  phase: 'starting' | 'ready' | 'listing' | 'done' | 'error';
  adapter: string | null;
  /** The manifest URL the weights come from. */
  weights: string;
  catalogs: string[];
  photo: { name: string; width: number; height: number; checksum: string } | null;
  /** The tokens of the listing in progress (or the last one), as streamed. */
  tokens: { field: 'title' | 'description'; text: string }[];
  listing: Listing | null;
  /** Listings completed since the page loaded. */
  runs: number;
  error: string | null;
}

declare global {
  interface Window {
    __atelier: PageState;
  }
}

const $ = <T extends HTMLElement>(selector: string) => document.querySelector<T>(selector)!;

const DEFAULT_MAX_TOKENS = 96;
const query = new URLSearchParams(location.search);

const state: PageState = {
  phase: 'starting',
  adapter: null,
  weights: manifestUrl(query.get('weights'), location.href).href,
  catalogs: [],
  photo: null,
  tokens: [],
  listing: null,
  runs: 0,
  error: null,
};
window.__atelier = state;

let model: ListingModel | null = null;
let photo: Photo | null = null;
let lost = false;

function fail(message: string): void {
  state.phase = 'error';
  state.error = message;
}

function maxTokens(): number {
  const raw = query.get('max-tokens');
  if (raw === null) return DEFAULT_MAX_TOKENS;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1) throw new Error(`?max-tokens= must be a whole number of at least 1, got "${raw}"`);
  return n;
}

function schemaOf(catalog: string): CatalogSchema {
  return model!.bundle.catalogs.find((c) => c.name === catalog)!;
}

function setBusy(busy: boolean): void {
  $<HTMLButtonElement>('#regenerate').disabled = busy || !model || !photo || lost;
  for (const id of ['#copy-json', '#download-csv']) $<HTMLButtonElement>(id).disabled = busy || !state.listing;
  $('#listing').dataset.state = busy ? 'running' : state.listing ? 'done' : 'empty';
  if (busy) $('#listing').dataset.streaming = 'title';
  else delete $('#listing').dataset.streaming;
}

function listingStatus(text: string, kind: 'muted' | 'error-text' = 'muted'): void {
  const el = $('#listing-status');
  el.textContent = text;
  el.className = kind;
}

/** Renders a finished listing: attributes, price, marked text, grounding, timings; predictions into the facts form. */
function showListing(listing: Listing): void {
  const schema = schemaOf(listing.catalog);
  renderAttributes($('#attributes'), listing.attributes, schema, model!.bundle.manifest.confidenceThreshold);
  renderPrice($('#price'), listing.price, model!.config.priceQuantiles);
  renderMarkedText($('#title'), listing.title, listing.grounding.filter((g) => g.field === 'title'));
  renderMarkedText($('#description'), listing.description, listing.grounding.filter((g) => g.field === 'description'));
  renderGrounding($('#grounding'), listing.grounding);
  renderTimings($('#timings'), listing.timings_ms, state.adapter ?? '');
  showPredictions($('#fact-fields'), listing);
}

/** One listing of the current photo with the current facts, streaming its text into the page. */
async function runListing(): Promise<void> {
  const title = $('#title');
  const description = $('#description');
  title.replaceChildren();
  description.replaceChildren();
  state.tokens = [];
  state.phase = 'listing';
  listingStatus(`Generating the listing of ${photo!.name}…`);
  setBusy(true);
  try {
    const [listing] = await model!.list([photo!.pixels], {
      catalog: $<HTMLSelectElement>('#catalog').value,
      facts: readFacts($('#fact-fields'), $<HTMLInputElement>('#brand')),
      grounding: 'prompted',
      maxNewTokens: maxTokens(),
      onToken: (_row, text, field) => {
        (field === 'title' ? title : description).append(text);
        $('#listing').dataset.streaming = field;
        state.tokens.push({ field, text });
      },
    });
    state.listing = listing;
    state.phase = 'done';
    state.runs++;
    showListing(listing);
    listingStatus(`Listing of ${photo!.name}. Correct a fact on the left and regenerate if something is off.`);
  } catch (e) {
    const message = lost ? 'The GPU device was lost while generating; reload the page to start again.' : `Generating the listing failed: ${(e as Error).message}`;
    fail(message);
    listingStatus(message, 'error-text');
  } finally {
    setBusy(false);
  }
}

/** Listings run one at a time; a request during a run (a new photo, regenerate) runs once it ends. */
let running = false;
let requested = false;
async function requestListing(): Promise<void> {
  if (!model || !photo || lost) return;
  requested = true;
  if (running) return;
  running = true;
  try {
    while (requested) {
      requested = false;
      await runListing();
    }
  } finally {
    running = false;
  }
}

function photoError(message: string | null): void {
  const el = $('#photo-error');
  el.hidden = message === null;
  el.textContent = message ?? '';
}

async function pickPhoto(file: File): Promise<void> {
  try {
    photo = await decodePhoto(file);
  } catch (e) {
    if (!(e instanceof PhotoError)) throw e;
    photoError(e.message);
    return;
  }
  photoError(null);
  drawPreview($<HTMLCanvasElement>('#photo-preview'), photo);
  $('#photo-info').textContent = `${photo.name} · ${photo.width}×${photo.height} px`;
  state.photo = { name: photo.name, width: photo.width, height: photo.height, checksum: pixelChecksum(photo.pixels) };
  resetCorrections($('#fact-fields'));
  if (model) void requestListing();
  else if (!lost && state.phase !== 'error') listingStatus('The listing starts as soon as the model is loaded.');
}

function wireInputs(): void {
  const input = $<HTMLInputElement>('#photo-input');
  const zone = $('#drop-zone');
  input.addEventListener('change', () => {
    if (input.files?.[0]) void pickPhoto(input.files[0]);
  });
  zone.addEventListener('dragover', (ev) => {
    ev.preventDefault();
    zone.classList.add('dragging');
  });
  zone.addEventListener('dragleave', () => zone.classList.remove('dragging'));
  zone.addEventListener('drop', (ev) => {
    ev.preventDefault();
    zone.classList.remove('dragging');
    const file = ev.dataTransfer?.files[0];
    if (file) void pickPhoto(file);
  });
  $('#facts').addEventListener('submit', (ev) => {
    ev.preventDefault();
    void requestListing();
  });
  $<HTMLSelectElement>('#catalog').addEventListener('change', (ev) => {
    buildFactFields($('#fact-fields'), schemaOf((ev.target as HTMLSelectElement).value));
    void requestListing();
  });
  $('#copy-json').addEventListener('click', async () => {
    const json = JSON.stringify(listingRecord(state.listing!, photo!.name), null, 2);
    const how = await copyText(json, $<HTMLTextAreaElement>('#json-fallback'));
    $('#export-status').textContent = how === 'copied' ? 'Copied the listing as JSON.' : 'The browser did not allow copying: the JSON is selected below, press Ctrl+C (⌘C).';
  });
  $('#download-csv').addEventListener('click', async () => {
    download(await listingCsv(listingRecord(state.listing!, photo!.name)), csvFileName(photo!.name), 'text/csv;charset=utf-8');
    $('#export-status').textContent = 'Saved a Shopify product CSV (imported as a draft).';
  });
}

function onDeviceLost(message: string): void {
  lost = true;
  fail(message);
  model = null;
  showStatus($('#model-status'), 'error', 'The model stopped', [message]);
  setBusy(false);
}

function weightsProgress(file: string, loaded: number, total: number | null): void {
  const mb = (n: number) => (n / 1e6).toFixed(1);
  $('#model-status').textContent = `Loading weights: ${file} ${mb(loaded)}${total ? ` of ${mb(total)}` : ''} MB…`;
}

/** The model cannot run: says why in the model panel and in the listing panel. */
function modelUnavailable(title: string, lines: string[]): void {
  showStatus($('#model-status'), 'error', title, lines);
  listingStatus('No listing can be generated: the model is not loaded (see above).', 'error-text');
  fail(lines[0]);
}

/** Starts WebGPU and fetches the weights at the same time; either failing is shown with its reason. */
async function startModel(): Promise<void> {
  let manifest: URL;
  let tokens: number;
  try {
    manifest = new URL(state.weights);
    tokens = maxTokens();
  } catch (e) {
    modelUnavailable('Bad page options', [(e as Error).message]);
    return;
  }
  const [engine, weights] = await Promise.allSettled([startEngine($('#gpu-status'), { onLost: onDeviceLost }), loadWeights(manifest, weightsProgress)]);
  if (engine.status === 'rejected') {
    const e = engine.reason as Error;
    // EngineStartError: the GPU panel already explains (no WebGPU, no adapter).
    if (!(e instanceof EngineStartError)) showStatus($('#gpu-status'), 'error', 'The page failed to start', [e.message]);
    modelUnavailable('No listing can be generated', ['The listing model needs WebGPU (see above).']);
    fail(e.message);
  }
  if (weights.status === 'rejected') {
    const e = weights.reason as Error;
    modelUnavailable("The model's weights could not be loaded", [
      e instanceof WeightsLoadError ? `${e.file}: ${e.reason}` : e.message,
      'Open the page with ?weights=URL to use another weights folder (model.json, model.safetensors and tokenizer.json).',
    ]);
  }
  if (engine.status === 'rejected' || weights.status === 'rejected') {
    if (engine.status === 'fulfilled') engine.value.destroy();
    return;
  }
  const ctx = engine.value;
  state.adapter = ctx.adapter.name;
  try {
    model = ListingModel.load(ctx, weights.value);
  } catch (e) {
    ctx.destroy();
    modelUnavailable('The model could not be set up on this GPU', [(e as Error).message]);
    return;
  }
  state.catalogs = model.catalogNames;
  const select = $<HTMLSelectElement>('#catalog');
  select.replaceChildren(...state.catalogs.map((name) => new Option(name, name)));
  $('#catalog-field').hidden = state.catalogs.length < 2;
  buildFactFields($('#fact-fields'), schemaOf(select.value));
  const { config, manifest: m } = model.bundle;
  const trained = m.training ? 'trained weights' : 'weights without training provenance';
  showStatus($('#model-status'), 'ok', `Model ready: ${config.name}`, [
    `${trained} from ${new URL('.', manifest).href}; catalog${state.catalogs.length > 1 ? 's' : ''} ${state.catalogs.join(', ')}; up to ${tokens} tokens per listing.`,
  ]);
  state.phase = 'ready';
  setBusy(false);
  if (photo) void requestListing();
}

wireInputs();
void startModel();
