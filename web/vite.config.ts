import { createReadStream, existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { defineConfig, type Plugin } from 'vite';

const webRoot = fileURLToPath(new URL('.', import.meta.url));
const projectRoot = fileURLToPath(new URL('..', import.meta.url));
const weightsDir = join(projectRoot, 'weights');

/** The default weights folder's files: model.json and the weights and tokenizer files it names. */
function weightsFiles(): string[] {
  const manifestPath = join(weightsDir, 'model.json');
  if (!existsSync(manifestPath)) return [];
  const { files } = JSON.parse(readFileSync(manifestPath, 'utf8')) as { files?: { weights?: string; tokenizer?: string } };
  return ['model.json', files?.weights ?? 'model.safetensors', files?.tokenizer ?? 'tokenizer.json'];
}

/**
 * The committed default weights (weights/) at `./weights/` beside the pages: served by `npm run
 * demo`, copied into the static build by `npm run build:web`, so the page's default `?weights=`
 * works on any static host. A checkout without weights/model.json builds a page that says so (and
 * still takes `?weights=URL`).
 */
function defaultWeights(): Plugin {
  return {
    name: 'atelier-default-weights',
    configureServer(server) {
      server.middlewares.use((req, res, next) => {
        const path = new URL(req.url ?? '/', 'http://x').pathname;
        if (!path.startsWith('/weights/')) return next();
        const name = decodeURIComponent(path.slice('/weights/'.length));
        // A 404 of our own: Vite's fallback would answer with index.html, which the page would then
        // report as invalid JSON.
        if (!weightsFiles().includes(name) || !statSync(join(weightsDir, name), { throwIfNoEntry: false })?.isFile()) {
          res.statusCode = 404;
          res.end(`weights/${name} is not in this checkout`);
          return;
        }
        res.setHeader('content-type', name.endsWith('.json') ? 'application/json' : 'application/octet-stream');
        createReadStream(join(weightsDir, name)).pipe(res);
      });
    },
    generateBundle() {
      const names = weightsFiles();
      if (names.length === 0) {
        this.warn(`${weightsDir}/model.json not found: the built page has no default weights (open it with ?weights=URL)`);
        return;
      }
      for (const name of names) {
        const path = join(weightsDir, name);
        if (!existsSync(path)) this.error(`${path} (named by weights/model.json) is missing`);
        this.emitFile({ type: 'asset', fileName: `weights/${name}`, source: readFileSync(path) });
      }
    },
  };
}

/**
 * The demo page and the kernel-check page. `npm run demo` serves them; `npm run build:web` writes
 * static files to dist/web. `base: './'` makes every asset URL relative, so the built folder works
 * from any static host and any sub-path (kernels are inlined by web/kernels.ts, the weights are
 * fetched relative to the page).
 */
export default defineConfig({
  root: webRoot,
  base: './',
  plugins: [defaultWeights()],
  // The pages import the engine from ../src and the shaders from ../kernels.
  server: { fs: { allow: [projectRoot] }, host: '127.0.0.1' },
  preview: { host: '127.0.0.1' },
  build: {
    outDir: fileURLToPath(new URL('../dist/web', import.meta.url)),
    emptyOutDir: true,
    target: 'es2022',
    rolldownOptions: {
      input: {
        main: fileURLToPath(new URL('index.html', import.meta.url)),
        kernelCheck: fileURLToPath(new URL('kernel-check.html', import.meta.url)),
      },
    },
  },
});
