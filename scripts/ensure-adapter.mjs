#!/usr/bin/env node
// Makes sure Dawn finds a WebGPU adapter. With no GPU, Dawn needs a Vulkan driver: Mesa lavapipe
// 25 or newer (Debian 12's own Mesa 22 is rejected by Dawn; bookworm-backports has 25). Where no
// adapter is found and we are root on a Debian/Ubuntu machine, this installs it; otherwise it prints
// exactly what to install. Exit code 0 means an adapter is there.
//
//   --quiet   print nothing when an adapter is there (the check takes ~0.4 s: one Dawn start)
//   --warm    then compile the listing's GPU kernels into Mesa's shader cache (`atelier warmup`),
//             so the first listing does not spend ~15-30 s compiling (npm run setup:gpu does this)
// ATELIER_NO_INSTALL=1 prints the commands instead of running apt-get. The `atelier` command runs
// this script by itself when it finds no adapter (src/node/setup.ts), then runs again.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const args = new Set(process.argv.slice(2));
const quiet = args.has('--quiet');
const warm = args.has('--warm');
const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');

if (!process.env.XDG_RUNTIME_DIR) {
  process.env.XDG_RUNTIME_DIR = join(tmpdir(), `atelier-xdg-${process.getuid?.() ?? 0}`);
  mkdirSync(process.env.XDG_RUNTIME_DIR, { recursive: true, mode: 0o700 });
}

const probe = `
  const { create, globals } = await import('webgpu');
  Object.assign(globalThis, globals);
  const adapter = await create([]).requestAdapter();
  if (!adapter) { console.log('NO_ADAPTER'); process.exit(3); }
  const device = await adapter.requestDevice();
  const i = adapter.info;
  console.log('ADAPTER ' + [i.vendor, i.architecture, i.device, i.description].filter(Boolean).join(' / '));
  device.destroy();
  process.exit(0);
`;

function findAdapter() {
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', probe], { encoding: 'utf8', timeout: 60_000, cwd: process.cwd() });
  const line = (r.stdout || '').split('\n').find((l) => l.startsWith('ADAPTER '));
  return line ? line.slice(8) : null;
}

function mesaVersion() {
  try {
    return execFileSync('dpkg-query', ['-W', '-f=${Version}', 'mesa-vulkan-drivers'], { encoding: 'utf8' }).trim();
  } catch {
    return null;
  }
}

const isRoot = process.getuid?.() === 0;
const sudo = isRoot ? '' : 'sudo ';
const HOW_TO = `No WebGPU adapter was found. Dawn needs a Vulkan driver; without a GPU use Mesa lavapipe 25 or newer:
  Debian 12 (bookworm):
    echo 'deb http://deb.debian.org/debian bookworm-backports main' | ${sudo}tee /etc/apt/sources.list.d/bookworm-backports.list
    ${sudo}apt-get update && ${sudo}apt-get install -y -t bookworm-backports mesa-vulkan-drivers
  Ubuntu 24.04+ / Debian 13+:
    ${sudo}apt-get update && ${sudo}apt-get install -y mesa-vulkan-drivers
  Other systems: your distribution's Mesa Vulkan drivers (lavapipe), version 25 or newer.
(Debian 12's own mesa-vulkan-drivers 22.x is rejected by Dawn.) Then run: npm run setup:gpu`;

/** The adapter is there: optionally compile the listing's kernels ahead, then exit. */
function done(adapter) {
  if (!quiet) console.log(`WebGPU adapter: ${adapter}`);
  if (warm) {
    const r = spawnSync(process.execPath, ['--max-semi-space-size=64', join(ROOT, 'bin', 'atelier.mjs'), 'warmup', '--quiet'], { stdio: 'inherit' });
    // A failed warm-up costs only time on the first listing; the adapter is there.
    if (r.status !== 0) console.error('(compiling the kernels ahead failed; the first listing will compile them)');
  }
  process.exit(0);
}

let adapter = findAdapter();
if (adapter) done(adapter);

const hasApt = existsSync('/usr/bin/apt-get');
const noInstall = /^(1|true|yes)$/i.test(process.env.ATELIER_NO_INSTALL ?? '');
if (!isRoot || !hasApt || noInstall) {
  console.error(HOW_TO);
  console.error(`(Not installing it myself: ${noInstall ? 'ATELIER_NO_INSTALL is set' : !isRoot ? 'not running as root' : 'no apt-get on this machine (not Debian/Ubuntu)'}.)`);
  process.exit(1);
}

const osRelease = existsSync('/etc/os-release') ? readFileSync('/etc/os-release', 'utf8') : '';
const isBookworm = /VERSION_CODENAME=bookworm/.test(osRelease);
console.log(`No WebGPU adapter (mesa-vulkan-drivers: ${mesaVersion() ?? 'not installed'}); installing Mesa lavapipe...`);
const run = (cmd, args) => {
  const r = spawnSync(cmd, args, { stdio: 'inherit', env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
  if (r.status !== 0) {
    console.error(`'${cmd} ${args.join(' ')}' failed (exit ${r.status}).\n${HOW_TO}`);
    process.exit(1);
  }
};
if (isBookworm) {
  const list = '/etc/apt/sources.list.d/atelier-bookworm-backports.list';
  const already = spawnSync('grep', ['-rqs', 'bookworm-backports', '/etc/apt/sources.list', '/etc/apt/sources.list.d/']).status === 0;
  if (!already) writeFileSync(list, 'deb http://deb.debian.org/debian bookworm-backports main\n');
  run('apt-get', ['update', '-qq']);
  run('apt-get', ['install', '-y', '-qq', '-t', 'bookworm-backports', 'mesa-vulkan-drivers']);
} else {
  run('apt-get', ['update', '-qq']);
  run('apt-get', ['install', '-y', '-qq', 'mesa-vulkan-drivers']);
}
adapter = findAdapter();
if (!adapter) {
  console.error(`Installed mesa-vulkan-drivers ${mesaVersion()}, but Dawn still finds no adapter.\n${HOW_TO}`);
  process.exit(1);
}
done(adapter);
