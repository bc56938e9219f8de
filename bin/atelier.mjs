#!/usr/bin/env -S node --max-semi-space-size=64
// The `atelier` command: runs the TypeScript CLI through tsx's loader, so no build step is needed.
// The larger young generation (a V8 flag, so it must be on the command line: npm start and the
// benchmarks pass it too) halves the garbage-collection pauses inside a listing's decode loop,
// where Dawn's bindings allocate on every poll. Measured on 2 cores, 10 listings of H&M photos
// twice each way: median decode time lost to slow steps 69-73 -> 36-37 ms per listing, median
// listing 251-262 -> 213-241 ms.
import { register } from 'tsx/esm/api';

register();
const { main } = await import('../src/cli/main.ts');
process.exitCode = await main(process.argv.slice(2));
