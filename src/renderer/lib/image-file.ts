/**
 * Turning whatever the user gave us (a picked or dropped File, a pasted
 * clipboard item, bytes from the Electron menu) into the workbench's image:
 * the bytes the engine gets, a blob: URL to display, the decoded element for
 * canvases, and a hash that keys the per-image history.
 */
import { hashBytes } from './format.js';

export interface LoadedImage {
  bytes: Uint8Array<ArrayBuffer>;
  name: string;
  url: string;
  hash: string;
  width: number;
  height: number;
  element: HTMLImageElement;
}

/** 64 MB: far above what an encoder needs, small enough to travel to the engine comfortably. */
export const MAX_IMAGE_BYTES = 64 * 1024 * 1024;

export async function loadImageBytes(bytes: Uint8Array<ArrayBuffer>, name: string, type = ''): Promise<LoadedImage> {
  if (bytes.byteLength === 0) throw new Error(`${name} is empty`);
  if (bytes.byteLength > MAX_IMAGE_BYTES) throw new Error(`${name} is larger than 64 MB`);
  const url = URL.createObjectURL(new Blob([bytes as BlobPart], type ? { type } : undefined));
  const element = new Image();
  element.decoding = 'async';
  element.src = url;
  try {
    await element.decode();
  } catch {
    URL.revokeObjectURL(url);
    throw new Error(`${name} is not an image this browser can show (PNG, JPEG, WebP, GIF)`);
  }
  return { bytes, name, url, hash: hashBytes(bytes), width: element.naturalWidth, height: element.naturalHeight, element };
}

export async function loadImageFile(file: File): Promise<LoadedImage> {
  if (file.size > MAX_IMAGE_BYTES) throw new Error(`${file.name} is larger than 64 MB`);
  const bytes = new Uint8Array(await file.arrayBuffer());
  return loadImageBytes(bytes, file.name || 'pasted image', file.type);
}

/** The first image file in a drop or paste, or undefined. */
export function firstImageFile(list: FileList | DataTransferItemList | undefined | null): File | undefined {
  if (!list) return undefined;
  for (let i = 0; i < list.length; i++) {
    const item = list[i];
    const file = item instanceof File ? item : (item as DataTransferItem).kind === 'file' ? (item as DataTransferItem).getAsFile() : null;
    if (file && (file.type.startsWith('image/') || /\.(png|jpe?g|webp|gif|bmp|avif|tiff?)$/i.test(file.name))) return file;
  }
  return undefined;
}

/** Whether a drag carries a folder (a pack): only the Electron host can open those by path. */
export function dropHasFolder(dt: DataTransfer | null): boolean {
  if (!dt) return false;
  for (let i = 0; i < dt.items.length; i++) {
    const entry = dt.items[i].webkitGetAsEntry?.();
    if (entry?.isDirectory) return true;
  }
  return false;
}
