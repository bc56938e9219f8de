/**
 * Starting the engine in a page: GpuContext.create with the browser's WebGPU and the bundled
 * kernels, the adapter shown to the user, and a message instead of a blank page when WebGPU is
 * missing, no adapter is found, or the device is lost later.
 */
import { AtelierGpuError } from '../src/runtime/errors.ts';
import { GpuContext, type GpuContextOptions } from '../src/runtime/gpu.ts';
import { bundledKernelSource } from './kernels.ts';

type Disable = GpuContextOptions['disable'];

/** Replaces the element's content with a title and paragraphs; `kind` styles it (ok, error). */
export function showStatus(el: HTMLElement, kind: 'ok' | 'error', title: string, lines: readonly (string | Node)[]): void {
  const heading = document.createElement('strong');
  heading.textContent = title;
  el.replaceChildren(heading, ...lines.map((line) => {
    const p = document.createElement('p');
    p.append(line);
    return p;
  }));
  el.dataset.state = kind;
}

function code(text: string): HTMLElement {
  const el = document.createElement('code');
  el.textContent = text;
  return el;
}

/** Why WebGPU is unavailable here and what the user can do about it. */
function noWebGpuHelp(): (string | Node)[] {
  if (!window.isSecureContext) {
    return [
      `This page was loaded over plain HTTP from ${location.host}, and browsers only offer WebGPU to secure pages.`,
      'Open it over HTTPS, or from localhost / 127.0.0.1 on this computer.',
    ];
  }
  const flag = document.createElement('span');
  flag.append('In Chrome or Edge 113+ WebGPU is on by default on Windows, macOS and ChromeOS; on Linux, where it is not yet on for every GPU, enable ', code('chrome://flags/#enable-unsafe-webgpu'), ' (and Vulkan: ', code('chrome://flags/#enable-vulkan'), '), then restart the browser.');
  return [
    'This browser does not offer WebGPU (navigator.gpu is missing), which the listing engine needs.',
    flag,
    'Firefox 141+ (Windows) and Safari 26+ also support WebGPU. Check chrome://gpu for "WebGPU: Hardware accelerated".',
  ];
}

/** The engine could not start; the reason is already shown in the status element. */
export class EngineStartError extends Error {}

/**
 * Creates the engine's GPU context, or shows why it could not and throws EngineStartError with the
 * same text. `onLost` runs when the device is lost after start-up (driver reset, GPU removed, a hang).
 */
export async function startEngine(status: HTMLElement, options: { disable?: Disable; onLost?: (message: string) => void } = {}): Promise<GpuContext> {
  let ctx: GpuContext;
  try {
    ctx = await GpuContext.create({ gpu: navigator.gpu, kernelSource: bundledKernelSource, disable: options.disable });
  } catch (e) {
    const kind = e instanceof AtelierGpuError ? e.kind : 'error';
    const [title, lines]: [string, (string | Node)[]] =
      kind === 'no-webgpu'
        ? ['WebGPU is not available', noWebGpuHelp()]
        : kind === 'no-adapter'
          ? ['No WebGPU adapter', [
              'The browser offers WebGPU but found no usable GPU adapter (it may be blocklisted or disabled).',
              'Check chrome://gpu; updating the graphics driver or enabling chrome://flags/#enable-unsafe-webgpu may help.',
              (e as Error).message,
            ]]
          : ['WebGPU failed to start', [(e as Error).message]];
    showStatus(status, 'error', title, lines);
    throw new EngineStartError(`${title}. ${lines.map((l) => (typeof l === 'string' ? l : l.textContent)).join(' ')}`);
  }
  const f = ctx.features;
  const on = (name: string, has: boolean) => `${name} ${has ? 'yes' : 'no'}`;
  const sizes = f.subgroupMinSize === f.subgroupMaxSize ? `${f.subgroupMaxSize}` : `${f.subgroupMinSize}–${f.subgroupMaxSize}`;
  showStatus(status, 'ok', `GPU: ${ctx.adapter.name}`, [
    [on('subgroups', f.subgroups) + (f.subgroups && f.subgroupMaxSize ? ` (size ${sizes})` : ''), on('shader-f16', f.f16), on('timestamp-query', f.timestamps)].join(' · '),
  ]);
  status.dataset.adapter = ctx.adapter.name;
  void ctx.device.lost.then((info) => {
    if (info.reason === 'destroyed') return; // we released it ourselves
    const message = `The GPU device was lost: ${info.message || 'no reason given'}. Reload the page to start again.`;
    showStatus(status, 'error', 'GPU device lost', [message]);
    options.onLost?.(message);
  });
  return ctx;
}
