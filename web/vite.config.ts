import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

const webRoot = fileURLToPath(new URL('.', import.meta.url));
const projectRoot = fileURLToPath(new URL('..', import.meta.url));

/**
 * The demo page and the kernel-check page. `npm run demo` serves them; `npm run build:web` writes
 * static files to dist/web. `base: './'` makes every asset URL relative, so the built folder works
 * from any static host and any sub-path (kernels are inlined by web/kernels.ts, nothing is fetched
 * by absolute path).
 */
export default defineConfig({
  root: webRoot,
  base: './',
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
