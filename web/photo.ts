/**
 * The seller's photo, decoded by the browser's own decoder (JPEG, PNG, WebP) into the engine's
 * PixelImage (RGBA, as canvas hands it out) and drawn scaled into the preview.
 */
import type { PixelImage } from '../src/data/preprocess.ts';

export const ACCEPTED_TYPES = ['image/jpeg', 'image/png', 'image/webp'];

/**
 * Photos larger than this on their long side are first reduced by the browser: the model sees
 * 64 x 96 pixels (tiny config) to 128 x 192, and a 24-megapixel RGBA copy would take ~100 MB.
 * Smaller photos reach the model's own resize (src/data/preprocess.ts fitImage) untouched, as in Node.
 */
const MAX_SIDE = 1024;
const PREVIEW_MAX_PX = 480;

export class PhotoError extends Error {}

export interface Photo {
  name: string;
  /** Size of the file as decoded, before any reduction. */
  width: number;
  height: number;
  pixels: PixelImage;
}

/**
 * Decodes `file`. Orientation comes from EXIF; colours are taken as stored, without colour-profile
 * conversion or alpha premultiplication, which is what Node's decoders (src/node/image.ts) give too.
 */
export async function decodePhoto(file: File): Promise<Photo> {
  if (file.type && !ACCEPTED_TYPES.includes(file.type)) throw new PhotoError(`${file.name} is ${file.type}; pick a JPEG, PNG or WebP photo.`);
  const options: ImageBitmapOptions = { imageOrientation: 'from-image', colorSpaceConversion: 'none', premultiplyAlpha: 'none' };
  let bitmap: ImageBitmap;
  try {
    bitmap = await createImageBitmap(file, options);
  } catch {
    throw new PhotoError(`${file.name} could not be decoded as an image (is it a complete JPEG, PNG or WebP file?).`);
  }
  const { width, height } = bitmap;
  const scale = Math.min(1, MAX_SIDE / Math.max(width, height));
  if (scale < 1) {
    bitmap.close();
    bitmap = await createImageBitmap(file, { ...options, resizeWidth: Math.round(width * scale), resizeHeight: Math.round(height * scale), resizeQuality: 'high' });
  }
  try {
    const canvas = new OffscreenCanvas(bitmap.width, bitmap.height);
    const context = canvas.getContext('2d', { willReadFrequently: true });
    if (!context) throw new PhotoError('this browser gives no 2D canvas to read the photo\'s pixels from');
    context.drawImage(bitmap, 0, 0);
    const data = context.getImageData(0, 0, bitmap.width, bitmap.height).data;
    return { name: file.name, width, height, pixels: { width: bitmap.width, height: bitmap.height, channels: 4, data } };
  } finally {
    bitmap.close();
  }
}

/** Draws the photo into the preview canvas, scaled to fit PREVIEW_MAX_PX with its aspect ratio. */
export function drawPreview(canvas: HTMLCanvasElement, photo: Photo): void {
  const { pixels } = photo;
  const scale = Math.min(1, PREVIEW_MAX_PX / Math.max(photo.width, photo.height));
  canvas.width = Math.round(photo.width * scale);
  canvas.height = Math.round(photo.height * scale);
  const full = new OffscreenCanvas(pixels.width, pixels.height);
  full.getContext('2d')!.putImageData(new ImageData(new Uint8ClampedArray(pixels.data), pixels.width, pixels.height), 0, 0);
  canvas.getContext('2d')!.drawImage(full, 0, 0, canvas.width, canvas.height);
  canvas.hidden = false;
}

/** FNV-1a over the pixel bytes: lets a test check that the browser decoded what Node decodes. */
export function pixelChecksum(image: PixelImage): string {
  let h = 0x811c9dc5;
  for (let i = 0; i < image.data.length; i++) h = Math.imul(h ^ image.data[i], 0x01000193);
  return (h >>> 0).toString(16).padStart(8, '0');
}
