import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseCsv } from '../../src/data/csv.ts';
import type { Listing } from '../../src/model/listing.ts';
import type { PromptFact } from '../../src/model/prompt.ts';
import { SHOPIFY_COLUMNS, shopifyRow } from '../../src/node/batch/csv.ts';
import { createListingEngine, type NodeListingEngine } from '../../src/node/engine.ts';
import { decodeImage } from '../../src/node/image.ts';
import { DEFAULT_WEIGHTS_DIR } from '../../src/node/weights.ts';
import type { PageState } from '../../web/main.ts';
import { artifactPath, chromiumMissing, collectPageErrors, useBrowserSite } from './chromium.ts';
import { fnv1a, serveWeights, shirtPng, twoCatalogBundle } from './fixtures.ts';

/**
 * Cross-runtime parity: the built demo page in Chromium (WebGPU on SwiftShader) and the Node engine
 * (Dawn on lavapipe, or whatever adapter Node has) list the same photo with the same weights, and
 * must give the same listing.
 *
 * Tolerances. Both run the same WGSL in f32, but the two compilers and devices may contract
 * multiply-adds differently and the kernels pick other code paths on other subgroup sizes
 * (SwiftShader: 4, lavapipe: 8), so sums are rounded in other orders: values differ by a few f32
 * ulps (measured on the generated weights: confidences within 6e-8, prices within 9e-8 relative).
 * The bounds below leave three orders of magnitude for deeper trained models:
 *   - attribute classes (argmax) and every greedy token: exactly equal;
 *   - confidences: CONFIDENCE_ATOL absolute;
 *   - price, interval ends: PRICE_RTOL relative (a log-price output, exponentiated).
 * Exact tokens are only a fair demand while no decision sits within float noise of a tie. A greedy
 * step whose top two logits are within ~1e-5 can flip between adapters; so can an attribute whose
 * confidence is within CONFIDENCE_ATOL of the prompt threshold (it enters one prompt and not the
 * other). The weights here make that unlikely: the committed trained weights (decisive logits) when
 * they exist, else seeded random weights whose runs were checked for near-ties (the seed is fixed, so
 * the same adapters give the same result every run). When a step does diverge, the failure names it,
 * with both tokens and the text up to there, and any attribute near the threshold.
 */
const CONFIDENCE_ATOL = 1e-4;
const PRICE_RTOL = 1e-4;
const MAX_NEW_TOKENS = 24;
const PHOTO_NAME = 'red shirt.png';

interface Run {
  listing: Listing;
  tokens: { field: 'title' | 'description'; text: string }[];
}

const title = chromiumMissing ? `listing parity, page vs Node (skipped: ${chromiumMissing})` : 'listing parity, page vs Node';

describe.skipIf(chromiumMissing !== null)(title, () => {
  const site = useBrowserSite();
  const photo = shirtPng(120, 160, [200, 30, 40]);
  let weights: { dir: string; query: string; committed: boolean };
  let engine: NodeListingEngine;
  let page: Page;
  let pageErrors: string[];

  beforeAll(async () => {
    const { browser, url, dir } = site();
    // The committed weights are in the build at ./weights/ (the page's default); without them, a
    // generated folder is served beside the pages.
    weights = existsSync(join(DEFAULT_WEIGHTS_DIR, 'model.json'))
      ? { dir: DEFAULT_WEIGHTS_DIR, query: '', committed: true }
      : { dir: serveWeights(dir, 'parity-weights', twoCatalogBundle(8)), query: 'weights=parity-weights/&', committed: false };
    engine = await createListingEngine({ weights: weights.dir, batchSize: 1, listOptions: { grounding: 'prompted', maxNewTokens: MAX_NEW_TOKENS } });
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 }, permissions: ['clipboard-read', 'clipboard-write'] });
    page = await context.newPage();
    pageErrors = collectPageErrors(page);
    await page.goto(`${url}?${weights.query}max-tokens=${MAX_NEW_TOKENS}`);
    await page.waitForFunction(() => window.__atelier.phase !== 'starting', undefined, { timeout: 60_000 });
    const state = await pageState();
    expect(state.phase, `the page did not load the model: ${state.error}; console: ${pageErrors.join(' | ')}`).toBe('ready');
  });

  afterAll(async () => {
    await page?.context().close();
    engine?.dispose();
  });

  const pageState = () => page.evaluate(() => window.__atelier) as Promise<PageState>;

  /** Does `action` on the page and waits for the listing it starts. */
  async function pageRun(action: () => Promise<unknown>): Promise<Run> {
    const before = (await pageState()).runs;
    await action();
    await page.waitForFunction((n) => window.__atelier.runs > n || window.__atelier.phase === 'error', before, { timeout: 100_000, polling: 100 });
    const state = await pageState();
    expect(state.phase, `the page failed: ${state.error}; console: ${pageErrors.join(' | ')}`).toBe('done');
    return { listing: state.listing!, tokens: state.tokens };
  }

  async function nodeRun(catalog: string, facts: PromptFact[]): Promise<Run> {
    const tokens: Run['tokens'] = [];
    const [listing] = await engine.list([decodeImage(photo.png)], { catalog, facts, onToken: (_row, text, field) => tokens.push({ field, text }) });
    return { listing, tokens };
  }

  /** Attributes whose confidence is within float noise of the prompt threshold: they may enter one prompt and not the other. */
  function nearThreshold(listing: Listing): string[] {
    const threshold = engine.model.bundle.manifest.confidenceThreshold;
    return Object.entries(listing.attributes)
      .filter(([, a]) => !a.fact && Math.abs(a.confidence - threshold) <= CONFIDENCE_ATOL)
      .map(([name, a]) => `${name} (${a.confidence} vs threshold ${threshold})`);
  }

  /** The first greedy step at which the two token streams differ, described; null when they agree. */
  function divergence(node: Run, web: Run): string | null {
    const steps = Math.max(node.tokens.length, web.tokens.length);
    for (let i = 0; i < steps; i++) {
      const [n, w] = [node.tokens[i], web.tokens[i]];
      if (n && w && n.field === w.field && n.text === w.text) continue;
      const said = (t?: Run['tokens'][number]) => (t ? `${JSON.stringify(t.text)} (${t.field})` : 'the end');
      const before = node.tokens.slice(0, i).map((t) => t.text).join('');
      const near = nearThreshold(node.listing);
      return (
        `greedy decoding diverged at step ${i}: Node chose ${said(n)}, the page ${said(w)}, after ${JSON.stringify(before)}` +
        (near.length ? `; attributes within float noise of the prompt threshold: ${near.join(', ')}` : '; no attribute is near the prompt threshold, so a near-tie between two tokens flipped')
      );
    }
    return null;
  }

  function expectSameListing(node: Run, web: Run): void {
    const [n, w] = [node.listing, web.listing];
    expect(w.catalog).toBe(n.catalog);
    const values = (l: Listing) => Object.fromEntries(Object.entries(l.attributes).map(([k, a]) => [k, { value: a.value, fact: a.fact ?? false }]));
    expect(values(w), 'attribute classes').toEqual(values(n));
    for (const [name, a] of Object.entries(n.attributes)) {
      expect(Math.abs(w.attributes[name].confidence - a.confidence), `confidence of ${name}: Node ${a.confidence}, page ${w.attributes[name].confidence}`).toBeLessThanOrEqual(CONFIDENCE_ATOL);
    }
    expect(w.price.currency).toBe(n.price.currency);
    for (const key of ['value', 'low', 'high'] as const) {
      expect(Math.abs(w.price[key] - n.price[key]) / Math.abs(n.price[key]), `price ${key}: Node ${n.price[key]}, page ${w.price[key]}`).toBeLessThanOrEqual(PRICE_RTOL);
    }
    expect(divergence(node, web)).toBeNull();
    expect(w.title).toBe(n.title);
    expect(w.description).toBe(n.description);
    expect(w.grounding).toEqual(n.grounding);
  }

  it('lists a photo as the Node engine does: classes, confidences, price and the greedy text', async () => {
    const web = await pageRun(() => page.setInputFiles('#photo-input', { name: PHOTO_NAME, mimeType: 'image/png', buffer: photo.png }));
    // The browser's decoder gave the page the very pixels Node decodes (else nothing below could agree).
    expect((await pageState()).photo).toEqual({ name: PHOTO_NAME, width: 120, height: 160, checksum: fnv1a(photo.rgba) });
    const node = await nodeRun(web.listing.catalog, []);
    expectSameListing(node, web);
    expect(await page.locator('#title').innerText()).toBe(web.listing.title);
    expect(await page.locator('#attributes li').count()).toBe(Object.keys(web.listing.attributes).length);
    await page.screenshot({ path: artifactPath('listing.png'), fullPage: true });
  });

  it('regenerates with a corrected attribute and a brand, grounded, as the Node engine does', async () => {
    const catalog = (await pageState()).listing!.catalog;
    const schema = engine.model.bundle.catalogs.find((c) => c.name === catalog)!;
    const predicted = (await pageState()).listing!.attributes;
    // Correct the first attribute to a class it was not predicted as.
    const { name, values } = schema.head.attributes[0];
    const corrected = values.find((v) => v !== predicted[name].value && v !== 'other')!;
    const web = await pageRun(async () => {
      await page.selectOption(`#fact-fields select[name="${name}"]`, corrected);
      await page.fill('#brand', 'Acme Studio');
      await page.click('#regenerate');
    });
    const facts = [{ name, value: corrected }, { name: 'brand', value: 'Acme Studio' }];
    expect(web.listing.attributes[name]).toEqual({ value: corrected, confidence: 1, fact: true });
    expect(web.listing.attributes.brand).toEqual({ value: 'Acme Studio', confidence: 1, fact: true });
    // Grounded decoding: nothing in the text contradicts the facts it was written from.
    expect(web.listing.grounding.filter((g) => !g.agrees)).toEqual([]);
    expectSameListing(await nodeRun(catalog, facts), web);
    // Agreeing mentions are marked in the text, one mark per mention.
    expect(await page.locator('#title mark.mention[data-agrees="true"], #description mark.mention[data-agrees="true"]').count()).toBe(web.listing.grounding.length);
    await page.screenshot({ path: artifactPath('listing-facts.png'), fullPage: true });
  });

  it('switches catalogs with the selector when the weights hold several', async () => {
    const { catalogs } = await pageState();
    expect(await page.locator('#catalog-field').isVisible()).toBe(catalogs.length > 1);
    if (catalogs.length < 2) return; // committed weights with one catalog: nothing to switch
    const web = await pageRun(() => page.selectOption('#catalog', catalogs[1]));
    expect(web.listing.catalog).toBe(catalogs[1]);
    // The corrections belonged to the other catalog's attributes; the brand stays.
    expectSameListing(await nodeRun(catalogs[1], [{ name: 'brand', value: 'Acme Studio' }]), web);
  });

  it('copies the listing as JSON and downloads it as the batch job\'s Shopify CSV row', async () => {
    const { listing } = await pageState();
    const record = { id: PHOTO_NAME, image: PHOTO_NAME, ...listing! };
    await page.click('#copy-json');
    await page.locator('#export-status', { hasText: 'Copied the listing as JSON' }).waitFor({ timeout: 10_000 });
    expect(JSON.parse(await page.evaluate(() => navigator.clipboard.readText()))).toEqual(record);

    const [download] = await Promise.all([page.waitForEvent('download'), page.click('#download-csv')]);
    expect(download.suggestedFilename()).toBe('red shirt.listing.csv');
    const rows = parseCsv(readFileSync((await download.path())!, 'utf8')).map((r) => r.cells);
    expect(rows).toEqual([[...SHOPIFY_COLUMNS], shopifyRow(record)]);
    expect(pageErrors).toEqual([]);
  });
});
