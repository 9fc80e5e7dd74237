/**
 * Turning maps into pictures: heat maps (normalise → upsample → colour map),
 * alpha-blended overlays on the encoder's view of the image, markers for
 * correspondence points, tiled channel grids, and PNG encoding/decoding with
 * sharp. Pixel work is plain loops over RGB bytes (exact and testable); sharp
 * only encodes and decodes, with fixed settings so the same pixels give the
 * same file.
 */
import sharp from 'sharp';
import type { RgbImage } from '../image/image.js';
import { colorize, type ColormapName } from './colormap.js';
import { normalize01, type Range, type ScalarMap, valueRange } from './maps.js';
import { resizeChannels, type UpsampleKernel } from './resample.js';

export type Rgb = readonly [number, number, number];

export function solidImage(width: number, height: number, color: Rgb = [255, 255, 255]): RgbImage {
  const data = new Uint8Array(width * height * 3);
  for (let i = 0; i < width * height; i++) data.set(color, i * 3);
  return { width, height, data };
}

export interface HeatmapOptions {
  colormap?: ColormapName;
  /** Value range mapped to the ends of the colour map (default: the map's min/max). */
  range?: Range;
  kernel?: UpsampleKernel;
}

/** A scalar map as a colour-mapped picture of width × height. */
export function heatmap(map: ScalarMap, width: number, height: number, opts: HeatmapOptions = {}): RgbImage {
  const range = opts.range ?? valueRange(map.data);
  const up = resizeChannels(map.data, map.height, map.width, 1, height, width, opts.kernel ?? 'bilinear');
  return colorize(normalize01(up, range), width, height, opts.colormap ?? 'viridis');
}

/** base·(1 − α) + over·α per pixel; α a constant or one value per pixel (0…1). */
export function blend(base: RgbImage, over: RgbImage, alpha: number | ArrayLike<number>): RgbImage {
  if (base.width !== over.width || base.height !== over.height) throw new Error(`blend: ${base.width}×${base.height} vs ${over.width}×${over.height}`);
  const n = base.width * base.height;
  const data = new Uint8Array(n * 3);
  for (let i = 0; i < n; i++) {
    const a = typeof alpha === 'number' ? alpha : alpha[i];
    for (let c = 0; c < 3; c++) data[i * 3 + c] = Math.round(base.data[i * 3 + c] * (1 - a) + over.data[i * 3 + c] * a);
  }
  return { width: base.width, height: base.height, data };
}

export interface OverlayOptions extends HeatmapOptions {
  /** Opacity of the heat map over the image (default 0.6). */
  alpha?: number;
}

/** A heat map upsampled (bilinear) onto an image and alpha-blended over it. */
export function overlay(base: RgbImage, map: ScalarMap, opts: OverlayOptions = {}): RgbImage {
  return blend(base, heatmap(map, base.width, base.height, opts), opts.alpha ?? 0.6);
}

/** A ring with a cross hair at (x, y), drawn in a copy of the image. */
export function drawMarker(
  img: RgbImage,
  x: number,
  y: number,
  color: Rgb = [255, 40, 40],
  radius = Math.max(3, Math.round(Math.min(img.width, img.height) / 24)),
): RgbImage {
  const data = Uint8Array.from(img.data);
  const put = (px: number, py: number, c: Rgb) => {
    if (px < 0 || py < 0 || px >= img.width || py >= img.height) return;
    data.set(c, (py * img.width + px) * 3);
  };
  const cx = Math.round(x);
  const cy = Math.round(y);
  const outline: Rgb = [255, 255, 255];
  for (let dy = -radius - 2; dy <= radius + 2; dy++) {
    for (let dx = -radius - 2; dx <= radius + 2; dx++) {
      const d = Math.hypot(dx, dy);
      if (Math.abs(d - radius) < 0.8) put(cx + dx, cy + dy, color);
      else if (Math.abs(d - radius) < 1.8) put(cx + dx, cy + dy, outline);
    }
  }
  for (let k = -Math.round(radius / 2); k <= Math.round(radius / 2); k++) {
    put(cx + k, cy, color);
    put(cx, cy + k, color);
  }
  return { width: img.width, height: img.height, data };
}

/** Tiles of equal size in a grid of `cols` columns with a gap between them. */
export function tile(tiles: RgbImage[], cols: number, gap = 2, background: Rgb = [255, 255, 255]): RgbImage {
  if (!tiles.length) return solidImage(1, 1, background);
  const tw = tiles[0].width;
  const th = tiles[0].height;
  const c = Math.max(1, Math.min(cols, tiles.length));
  const rows = Math.ceil(tiles.length / c);
  const out = solidImage(c * tw + (c - 1) * gap, rows * th + (rows - 1) * gap, background);
  tiles.forEach((t, i) => {
    if (t.width !== tw || t.height !== th) throw new Error('tile: tiles differ in size');
    const ox = (i % c) * (tw + gap);
    const oy = Math.floor(i / c) * (th + gap);
    for (let y = 0; y < th; y++) out.data.set(t.data.subarray(y * tw * 3, (y + 1) * tw * 3), ((oy + y) * out.width + ox) * 3);
  });
  return out;
}

/** Lossless PNG of an RGB image; fixed settings, no metadata. */
export async function encodePng(img: RgbImage): Promise<Buffer> {
  return sharp(Buffer.from(img.data.buffer, img.data.byteOffset, img.data.byteLength), { raw: { width: img.width, height: img.height, channels: 3 } })
    .png({ compressionLevel: 6, adaptiveFiltering: false, palette: false })
    .toBuffer();
}

/** Any image sharp reads → RGB bytes (alpha flattened onto white). */
export async function decodeImage(buf: Buffer): Promise<RgbImage> {
  const { data, info } = await sharp(buf).flatten({ background: '#ffffff' }).toColourspace('srgb').removeAlpha().raw().toBuffer({ resolveWithObject: true });
  return { width: info.width, height: info.height, data: new Uint8Array(data.buffer, data.byteOffset, data.byteLength) };
}
