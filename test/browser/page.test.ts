import { existsSync, readFileSync, truncateSync } from 'node:fs';
import { join } from 'node:path';
import { PNG } from 'pngjs';
import { describe, expect, it } from 'vitest';
import { DEFAULT_WEIGHTS_DIR } from '../../src/node/weights.ts';
import { artifactPath, chromiumMissing, collectPageErrors, useBrowserSite } from './chromium.ts';
import { serveWeights, twoCatalogBundle } from './fixtures.ts';

// The demo page (web/index.html) as built by `npm run build:web`, served as plain static files.

const title = chromiumMissing ? `demo page in Chromium (skipped: ${chromiumMissing})` : 'demo page in Chromium';

/** A PNG of a diagonal colour gradient, small enough to decode instantly. */
function gradientPng(width: number, height: number): Buffer {
  const png = new PNG({ width, height });
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const i = (y * width + x) * 4;
      png.data[i] = Math.round((255 * x) / width);
      png.data[i + 1] = Math.round((255 * y) / height);
      png.data[i + 2] = 128;
      png.data[i + 3] = 255;
    }
  }
  return PNG.sync.write(png);
}

describe.skipIf(chromiumMissing !== null)(title, () => {
  const site = useBrowserSite();

  it('starts the engine, names the adapter and shows a picked photo', async () => {
    const { browser, url } = site();
    const page = await browser.newPage();
    const errors = collectPageErrors(page);
    // Weights that are not there: the page still starts the engine and shows photos, and says why
    // no listing comes (the browser logs the 404 itself; that is the only console error).
    await page.goto(`${url}?weights=no-such-weights/`);
    const status = page.locator('#gpu-status[data-state]');
    await status.waitFor({ timeout: 30_000 });
    expect(await status.getAttribute('data-state'), await status.innerText()).toBe('ok');
    expect(await status.getAttribute('data-adapter')).toBeTruthy();
    expect(await status.innerText()).toMatch(/^GPU: .+\n+subgroups (yes|no)/);
    const model = page.locator('#model-status[data-state="error"]');
    await model.waitFor({ timeout: 30_000 });
    expect(await model.innerText()).toMatch(/^The model's weights could not be loaded\n+http:\/\/127\.0\.0\.1:\d+\/no-such-weights\/model\.json: HTTP 404/);

    await page.setInputFiles('#photo-input', { name: 'gradient.png', mimeType: 'image/png', buffer: gradientPng(640, 320) });
    await page.locator('#photo-preview:not([hidden])').waitFor({ timeout: 10_000 });
    expect(await page.locator('#photo-info').innerText()).toBe('gradient.png · 640×320 px');
    // Scaled to fit 480 px on the long side, keeping the aspect ratio.
    expect(await page.locator('#photo-preview').evaluate((c: HTMLCanvasElement) => [c.width, c.height])).toEqual([480, 240]);
    await page.screenshot({ path: artifactPath('demo-page.png'), fullPage: true });
    expect(errors).toEqual([expect.stringMatching(/^console: Failed to load resource: .* 404/)]);
    await page.close();
  });

  it('names the weights file that is broken and why', async () => {
    const { browser, url, dir } = site();
    const weights = serveWeights(dir, 'cut-weights', twoCatalogBundle(1));
    truncateSync(join(weights, 'model.safetensors'), 1000);
    const page = await browser.newPage();
    await page.goto(`${url}?weights=cut-weights/model.json`);
    const model = page.locator('#model-status[data-state="error"]');
    await model.waitFor({ timeout: 30_000 });
    expect(await model.innerText()).toMatch(/cut-weights\/model\.safetensors: .*(truncated|past the end|bytes)/i);
    expect(await page.evaluate(() => window.__atelier.phase)).toBe('error');
    await page.close();
  });

  it('says so when the GPU device is lost after start-up', async () => {
    const { browser, url } = site();
    const context = await browser.newContext();
    // Chrome cannot be made to lose a device on demand; the page sees what a driver reset gives it:
    // the device's `lost` promise resolving with a reason other than 'destroyed'.
    await context.addInitScript(() => {
      const requestDevice = GPUAdapter.prototype.requestDevice;
      GPUAdapter.prototype.requestDevice = async function (this: GPUAdapter, descriptor?: GPUDeviceDescriptor) {
        const device = await requestDevice.call(this, descriptor);
        const lost = new Promise<GPUDeviceLostInfo>((resolve) => {
          (window as unknown as { loseDevice: () => void }).loseDevice = () => resolve({ reason: 'unknown', message: 'simulated driver reset' } as GPUDeviceLostInfo);
        });
        Object.defineProperty(device, 'lost', { value: lost });
        return device;
      };
    });
    const page = await context.newPage();
    await page.goto(`${url}?weights=no-such-weights/`);
    await page.locator('#gpu-status[data-state="ok"]').waitFor({ timeout: 30_000 });
    await page.evaluate(() => (window as unknown as { loseDevice: () => void }).loseDevice());
    const status = page.locator('#gpu-status[data-state="error"]');
    await status.waitFor({ timeout: 10_000 });
    expect(await status.innerText()).toMatch(/^GPU device lost\n+The GPU device was lost: simulated driver reset\. Reload the page/);
    await context.close();
  });

  it('builds the committed default weights into the static output, when there are any', () => {
    const { dir } = site();
    const committed = existsSync(join(DEFAULT_WEIGHTS_DIR, 'model.json'));
    expect(existsSync(join(dir, 'weights', 'model.json'))).toBe(committed);
    if (!committed) return;
    const { files } = JSON.parse(readFileSync(join(DEFAULT_WEIGHTS_DIR, 'model.json'), 'utf8'));
    for (const name of ['model.json', files.weights, files.tokenizer]) {
      expect(readFileSync(join(dir, 'weights', name)).equals(readFileSync(join(DEFAULT_WEIGHTS_DIR, name))), name).toBe(true);
    }
  });

  it('says why a file that is not a readable image is refused', async () => {
    const { browser, url } = site();
    const page = await browser.newPage();
    await page.goto(url);
    await page.setInputFiles('#photo-input', { name: 'broken.png', mimeType: 'image/png', buffer: gradientPng(8, 8).subarray(0, 40) });
    await page.locator('#photo-error:not([hidden])').waitFor({ timeout: 10_000 });
    expect(await page.locator('#photo-error').innerText()).toMatch(/broken\.png could not be decoded/);
    await page.setInputFiles('#photo-input', { name: 'notes.gif', mimeType: 'image/gif', buffer: Buffer.from('GIF89a') });
    await expect(page.locator('#photo-error').innerText()).resolves.toMatch(/notes\.gif is image\/gif; pick a JPEG, PNG or WebP/);
    await page.close();
  });

  it('explains how to get WebGPU when the browser has none, instead of a blank page', async () => {
    const { browser, url } = site();
    const context = await browser.newContext();
    await context.addInitScript(() => Object.defineProperty(Navigator.prototype, 'gpu', { get: () => undefined }));
    const page = await context.newPage();
    await page.goto(url);
    const status = page.locator('#gpu-status[data-state="error"]');
    await status.waitFor({ timeout: 30_000 });
    const text = await status.innerText();
    expect(text).toMatch(/WebGPU is not available/);
    expect(text).toMatch(/chrome:\/\/flags\/#enable-unsafe-webgpu/);
    await page.screenshot({ path: artifactPath('demo-page-no-webgpu.png'), fullPage: true });
    await context.close();
  });
});
