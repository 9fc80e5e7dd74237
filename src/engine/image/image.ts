/**
 * Decoding user images with sharp: one place that applies EXIF orientation,
 * flattens alpha onto white, refuses decompression bombs and corrupt files with
 * a clear error, and hashes the bytes (the cache key for latents and features).
 */
import { createHash } from 'node:crypto';
import { constants as fsConstants } from 'node:fs';
import * as fs from 'node:fs/promises';
import sharp, { type Metadata } from 'sharp';
import type { ImageInput } from '../../shared/contract.js';
import { TwinLensError } from '../../shared/errors.js';

/** 64 megapixels: far above any encoder's input, far below what exhausts memory. */
export const DEFAULT_MAX_PIXELS = 64_000_000;
/** 512 MB: no image file a user means to open is larger; a bigger one is refused before reading. */
export const MAX_IMAGE_FILE_BYTES = 512 * 1024 * 1024;

/**
 * Reads an image file only if it is a regular file of sane size. The file is
 * opened non-blocking and checked through the open handle (no race between
 * the check and the read): a FIFO, a directory or a device would otherwise
 * block or flood the engine's single queue.
 */
async function readImageFile(file: string): Promise<Buffer> {
  let handle: fs.FileHandle;
  try {
    handle = await fs.open(file, fsConstants.O_RDONLY | fsConstants.O_NONBLOCK);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    const why =
      code === 'ENOENT' ? 'file not found' : code === 'EISDIR' ? 'it is a folder, not a file' : code === 'EACCES' ? 'permission denied' : String(code ?? e);
    throw new TwinLensError('IMAGE_DECODE_FAILED', `Cannot read image ${file}: ${why}`, 'Check the path');
  }
  try {
    const st = await handle.stat();
    if (st.isDirectory())
      throw new TwinLensError('IMAGE_DECODE_FAILED', `Cannot read image ${file}: it is a folder, not a file`, 'Choose an image file inside it');
    if (!st.isFile())
      throw new TwinLensError(
        'IMAGE_DECODE_FAILED',
        `Cannot read image ${file}: not a regular file (a pipe, socket or device)`,
        'Save the image to a file first',
      );
    if (st.size > MAX_IMAGE_FILE_BYTES) {
      throw new TwinLensError(
        'IMAGE_TOO_LARGE',
        `${file} is ${(st.size / 1e6).toFixed(0)} MB, above the ${MAX_IMAGE_FILE_BYTES / 1024 / 1024} MB limit for an image file`,
        'Downscale or recompress the image first',
      );
    }
    return await handle.readFile();
  } catch (e) {
    if (e instanceof TwinLensError) throw e;
    const code = (e as NodeJS.ErrnoException).code;
    throw new TwinLensError('IMAGE_DECODE_FAILED', `Cannot read image ${file}: ${String(code ?? e)}`, 'Check the path');
  } finally {
    await handle.close();
  }
}

export interface LoadedImage {
  bytes: Buffer;
  hash: string;
  width: number;
  height: number;
  name: string;
}

export async function loadImage(input: ImageInput, maxPixels = DEFAULT_MAX_PIXELS): Promise<LoadedImage> {
  let bytes: Buffer;
  let name: string;
  if ('path' in input) {
    name = input.path;
    bytes = await readImageFile(input.path);
  } else {
    bytes = Buffer.from(input.bytes.buffer, input.bytes.byteOffset, input.bytes.byteLength);
    name = input.name ?? 'image';
  }
  if (bytes.length === 0) throw new TwinLensError('IMAGE_DECODE_FAILED', `${name} is empty`, 'Open a PNG, JPEG, WebP, GIF, TIFF or AVIF image');
  let meta: Metadata;
  try {
    meta = await sharp(bytes, { limitInputPixels: false }).metadata();
  } catch (e) {
    throw new TwinLensError(
      'IMAGE_DECODE_FAILED',
      `${name} is not a readable image: ${(e as Error).message}`,
      'Open a PNG, JPEG, WebP, GIF, TIFF or AVIF image',
    );
  }
  // EXIF orientations 5-8 turn the picture a quarter: every consumer (crop geometry, point mapping,
  // the decoded pixels, which go through .rotate()) works in the upright frame, so report its size.
  const quarterTurn = (meta.orientation ?? 1) >= 5;
  const width = (quarterTurn ? meta.height : meta.width) ?? 0;
  const height = (quarterTurn ? meta.width : meta.height) ?? 0;
  if (!width || !height) throw new TwinLensError('IMAGE_DECODE_FAILED', `${name} has no pixel size`, 'The file may be corrupt');
  if (width * height > maxPixels) {
    throw new TwinLensError(
      'IMAGE_TOO_LARGE',
      `${name} is ${width}×${height} (${((width * height) / 1e6).toFixed(1)} MP), above the ${(maxPixels / 1e6).toFixed(0)} MP limit`,
      'Downscale the image first; encoders see at most a few hundred pixels per side',
    );
  }
  // Decode fully once so truncated files fail here, not half-way through a run.
  try {
    await sharp(bytes, { limitInputPixels: maxPixels, failOn: 'error' }).raw().toBuffer();
  } catch (e) {
    throw new TwinLensError('IMAGE_DECODE_FAILED', `${name} could not be decoded: ${(e as Error).message}`, 'The file may be truncated or corrupt');
  }
  const hash = createHash('sha256').update(bytes).digest('hex');
  return { bytes, hash, width, height, name };
}

export interface RgbImage {
  width: number;
  height: number;
  /** HWC uint8 RGB. */
  data: Uint8Array;
}

export type ResampleKernel = 'nearest' | 'linear' | 'cubic' | 'lanczos3';

/** Orient, flatten alpha, convert to sRGB RGB; resize the short side to `shortSide` and center-crop to crop×crop. */
export async function rgbResizedCropped(img: LoadedImage, shortSide: number, crop: number, kernel: ResampleKernel): Promise<RgbImage> {
  const pipeline = sharp(img.bytes, { limitInputPixels: false }).rotate().flatten({ background: '#ffffff' }).toColourspace('srgb');
  const { data: base, info } = await pipeline.removeAlpha().raw().toBuffer({ resolveWithObject: true });
  let w = info.width;
  let h = info.height;
  let buf: Buffer = base;
  const scale = shortSide / Math.min(w, h);
  const rw = Math.max(crop, Math.round(w * scale));
  const rh = Math.max(crop, Math.round(h * scale));
  if (rw !== w || rh !== h) {
    buf = await sharp(base, { raw: { width: w, height: h, channels: 3 } })
      .resize(rw, rh, { kernel, fit: 'fill' })
      .raw()
      .toBuffer();
    w = rw;
    h = rh;
  }
  if (w !== crop || h !== crop) {
    const left = Math.floor((w - crop) / 2);
    const top = Math.floor((h - crop) / 2);
    buf = await sharp(buf, { raw: { width: w, height: h, channels: 3 } })
      .extract({ left, top, width: crop, height: crop })
      .raw()
      .toBuffer();
  }
  return { width: crop, height: crop, data: new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength) };
}

/** HWC uint8 → CHW float32 with a per-channel affine map: (x·scale − mean) / std. */
export function toChw(rgb: RgbImage, scale: number, mean: readonly number[], std: readonly number[]): Float32Array {
  const { width, height, data } = rgb;
  const plane = width * height;
  const out = new Float32Array(3 * plane);
  for (let i = 0; i < plane; i++) {
    for (let c = 0; c < 3; c++) out[c * plane + i] = (data[i * 3 + c] * scale - mean[c]) / std[c];
  }
  return out;
}
