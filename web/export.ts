/**
 * Taking a listing away from the page: JSON (the batch job's JSONL record: id, image, then the
 * listing) to the clipboard, and a one-row Shopify product CSV (the batch job's columns and
 * escaping, src/model/shopify-csv.ts) as a download.
 */
import type { Listing } from '../src/model/listing.ts';
import { CSV_HEADER, csvLine, shopifyRow, type ShopifyItem } from '../src/model/shopify-csv.ts';

/** The listing as the batch job writes it: the photo's file name is the item's id and image. */
export function listingRecord(listing: Listing, photoName: string): ShopifyItem {
  return { id: photoName, image: photoName, ...listing };
}

async function sha256Hex(text: string): Promise<string> {
  const digest = await crypto.subtle.digest('SHA-256', new TextEncoder().encode(text));
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, '0')).join('');
}

/** Header and one product row. */
export async function listingCsv(record: ShopifyItem): Promise<string> {
  return CSV_HEADER + csvLine(shopifyRow(record, {}, await sha256Hex(record.id)));
}

/**
 * Copies `text`: the async Clipboard API where the page may use it, else the old copy command on a
 * selected textarea, else the textarea is left shown and selected for the seller to copy by hand.
 * Returns how it went, for the message beside the button.
 */
export async function copyText(text: string, fallback: HTMLTextAreaElement): Promise<'copied' | 'select-and-copy'> {
  fallback.value = text;
  try {
    await navigator.clipboard.writeText(text);
    fallback.hidden = true;
    return 'copied';
  } catch {
    // no permission (an insecure page, a denied prompt) or no Clipboard API: try the copy command
  }
  fallback.hidden = false;
  fallback.select();
  if (!document.execCommand('copy')) return 'select-and-copy';
  fallback.hidden = true;
  return 'copied';
}

/** Saves `text` as a file through a temporary object URL. */
export function download(text: string, fileName: string, type: string): void {
  const url = URL.createObjectURL(new Blob([text], { type }));
  const link = document.createElement('a');
  link.href = url;
  link.download = fileName;
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

/** A file name for the CSV from the photo's name: "red shirt.jpg" -> "red shirt.listing.csv". */
export function csvFileName(photoName: string): string {
  return `${photoName.replace(/\.[^.]*$/, '') || 'listing'}.listing.csv`;
}
