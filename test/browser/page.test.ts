import { PNG } from 'pngjs';
import { describe, expect, it } from 'vitest';
import { artifactPath, chromiumMissing, collectPageErrors, useBrowserSite } from './chromium.ts';

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
    await page.goto(url);
    const status = page.locator('#gpu-status[data-state]');
    await status.waitFor({ timeout: 30_000 });
    expect(await status.getAttribute('data-state'), await status.innerText()).toBe('ok');
    expect(await status.getAttribute('data-adapter')).toBeTruthy();
    expect(await status.innerText()).toMatch(/^GPU: .+\n+subgroups (yes|no)/);
    await expect(page.locator('#model-status').innerText()).resolves.toMatch(/Model not loaded/);

    await page.setInputFiles('#photo-input', { name: 'gradient.png', mimeType: 'image/png', buffer: gradientPng(640, 320) });
    await page.locator('#photo-preview:not([hidden])').waitFor({ timeout: 10_000 });
    expect(await page.locator('#photo-info').innerText()).toBe('gradient.png · 640×320 px');
    // Scaled to fit 480 px on the long side, keeping the aspect ratio.
    expect(await page.locator('#photo-preview').evaluate((c: HTMLCanvasElement) => [c.width, c.height])).toEqual([480, 240]);
    await page.screenshot({ path: artifactPath('demo-page.png'), fullPage: true });
    expect(errors).toEqual([]);
    await page.close();
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
