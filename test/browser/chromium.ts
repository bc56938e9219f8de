/**
 * The real-browser harness: builds the web pages, serves them from a plain static server on
 * 127.0.0.1 (as any static host would), and drives Debian's Chromium headless through
 * playwright-core (which never downloads a browser of its own).
 */
import { createReadStream, existsSync, mkdirSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { extname, join, resolve, sep } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { build } from 'vite';
import { afterAll, beforeAll } from 'vitest';
import { PROJECT_ROOT } from '../../src/node/gpu.ts';

export const CHROMIUM_PATH = process.env.ATELIER_CHROMIUM ?? '/usr/bin/chromium';
export const chromiumMissing = existsSync(CHROMIUM_PATH)
  ? null
  : `${CHROMIUM_PATH} is not installed (Debian: apt-get install chromium; .ci/run installs it; ATELIER_CHROMIUM=path picks another)`;

/**
 * WebGPU in headless Chromium, also on a machine without a GPU: `--enable-unsafe-webgpu` turns
 * WebGPU on for Linux, where Chromium then falls back to its bundled SwiftShader Vulkan adapter
 * ("google / swiftshader", no shader-f16, subgroups of 4). Chromium does not offer Mesa lavapipe
 * (a CPU Vulkan driver) to pages. `--enable-webgpu-developer-features` fills adapter.info's
 * description. The rest keeps the browser off the network and needs no sandbox setup as root.
 */
export const CHROMIUM_FLAGS = [
  '--headless=new',
  '--enable-unsafe-webgpu',
  '--enable-webgpu-developer-features',
  '--no-sandbox',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
  '--disable-quic',
];

/** A Chromium with WebGPU; playwright gives it a fresh temporary profile (user-data-dir). */
export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM_PATH,
    args: CHROMIUM_FLAGS,
    ignoreDefaultArgs: ['--headless'], // we pass --headless=new ourselves
    timeout: 60_000,
  });
}

/** Builds web/ (the same config as `npm run build:web`) into a fresh temporary folder. */
export async function buildWeb(): Promise<string> {
  const outDir = mkdtempSync(join(tmpdir(), 'atelier-web-'));
  await build({ configFile: join(PROJECT_ROOT, 'web', 'vite.config.ts'), logLevel: 'warn', build: { outDir, emptyOutDir: true } });
  return outDir;
}

const MIME: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json',
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.webp': 'image/webp',
  '.svg': 'image/svg+xml',
  '.wasm': 'application/wasm',
};

export interface StaticSite {
  url: string;
  close(): Promise<void>;
}

/** Serves `dir` on 127.0.0.1 (a free port) with nothing but files: no rewrites, no special headers. */
export async function serveStatic(dir: string): Promise<StaticSite> {
  const root = resolve(dir);
  const server: Server = createServer((req, res) => {
    const path = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname);
    const file = resolve(root, `.${path.endsWith('/') ? `${path}index.html` : path}`);
    if ((file !== root && !file.startsWith(root + sep)) || !existsSync(file) || !statSync(file).isFile()) {
      res.writeHead(404).end('not found');
      return;
    }
    res.writeHead(200, { 'content-type': MIME[extname(file)] ?? 'application/octet-stream' });
    createReadStream(file).pipe(res);
  });
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  const { port } = server.address() as { port: number };
  return { url: `http://127.0.0.1:${port}/`, close: () => new Promise((ok) => server.close(() => ok())) };
}

/** The page's console errors and uncaught exceptions, for failure messages. */
export function collectPageErrors(page: Page): string[] {
  const errors: string[] = [];
  page.on('console', (m) => {
    if (m.type() === 'error') errors.push(`console: ${m.text()}`);
  });
  page.on('pageerror', (e) => errors.push(`uncaught: ${e.message}`));
  return errors;
}

/** Where screenshots go (gitignored). */
export function artifactPath(name: string): string {
  const dir = join(PROJECT_ROOT, 'test-artifacts', 'browser');
  mkdirSync(dir, { recursive: true });
  return join(dir, name);
}

export interface BrowserSite {
  browser: Browser;
  /** The built pages' base URL, ending in '/'. */
  url: string;
  /** The folder served at `url`: a test may add files (a weights folder) beside the pages. */
  dir: string;
}

/**
 * For a describe block: builds web/, serves it and launches Chromium in beforeAll, and tears all
 * three down in afterAll. Returns a getter for use inside tests.
 */
export function useBrowserSite(): () => BrowserSite {
  let outDir = '';
  let site: StaticSite | null = null;
  let browser: Browser | null = null;
  beforeAll(async () => {
    outDir = await buildWeb();
    site = await serveStatic(outDir);
    browser = await launchChromium();
  });
  afterAll(async () => {
    await browser?.close();
    await site?.close();
    if (outDir) rmSync(outDir, { recursive: true, force: true });
  });
  return () => {
    if (!browser || !site) throw new Error('the browser is not ready (useBrowserSite must be called at describe level)');
    return { browser, url: site.url, dir: outDir };
  };
}
