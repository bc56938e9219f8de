/**
 * The demo page: starts the engine on this browser's WebGPU and shows the adapter, decodes the
 * seller's photo with the browser's own decoder and shows it. The listing half of the page waits
 * for the listing model (src/model); until it is part of the build the page says so.
 */
import { EngineStartError, showStatus, startEngine } from './engine.ts';

const $ = <T extends HTMLElement>(selector: string) => document.querySelector<T>(selector)!;

const PREVIEW_MAX_PX = 480;
const ACCEPTED = ['image/jpeg', 'image/png', 'image/webp'];

function photoError(message: string | null): void {
  const el = $('#photo-error');
  el.hidden = message === null;
  el.textContent = message ?? '';
}

/** Decodes the file with the browser (EXIF orientation applied) and draws it scaled into the preview. */
async function showPhoto(file: File): Promise<void> {
  if (file.type && !ACCEPTED.includes(file.type)) {
    photoError(`${file.name} is ${file.type}; pick a JPEG, PNG or WebP photo.`);
    return;
  }
  let bitmap: ImageBitmap;
  try {
    bitmap = await createImageBitmap(file, { imageOrientation: 'from-image' });
  } catch {
    photoError(`${file.name} could not be decoded as an image (is it a complete JPEG, PNG or WebP file?).`);
    return;
  }
  photoError(null);
  const scale = Math.min(1, PREVIEW_MAX_PX / Math.max(bitmap.width, bitmap.height));
  const canvas = $<HTMLCanvasElement>('#photo-preview');
  canvas.width = Math.round(bitmap.width * scale);
  canvas.height = Math.round(bitmap.height * scale);
  canvas.getContext('2d')!.drawImage(bitmap, 0, 0, canvas.width, canvas.height);
  canvas.hidden = false;
  $('#photo-info').textContent = `${file.name} · ${bitmap.width}×${bitmap.height} px`;
  bitmap.close();
}

function wirePhotoInput(): void {
  const input = $<HTMLInputElement>('#photo-input');
  const zone = $('#drop-zone');
  input.addEventListener('change', () => {
    if (input.files?.[0]) void showPhoto(input.files[0]);
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
    if (file) void showPhoto(file);
  });
}

async function main(): Promise<void> {
  wirePhotoInput();
  try {
    await startEngine($('#gpu-status'), {
      onLost: () => ($('#model-status').textContent = 'The GPU device was lost; reload the page to generate listings again.'),
    });
  } catch (e) {
    $('#model-status').textContent = 'No listing can be generated without WebGPU (see above).';
    if (!(e instanceof EngineStartError)) showStatus($('#gpu-status'), 'error', 'The page failed to start', [(e as Error).message]);
  }
}

void main();
