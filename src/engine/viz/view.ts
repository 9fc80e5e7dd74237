/**
 * The encoder's view of an image. Encoders see a resized, center-cropped
 * square (image/image.ts `rgbResizedCropped`), and every token grid covers
 * that square, not the whole photo. Panels are drawn on the same square, and
 * points clicked on the original image (correspondence) are mapped into it
 * — and best matches mapped back — with the exact crop geometry.
 */
import { type LoadedImage, type RgbImage, rgbResizedCropped } from '../image/image.js';

export interface CropGeometry {
  imageWidth: number;
  imageHeight: number;
  /** Size after the short-side resize. */
  resizedWidth: number;
  resizedHeight: number;
  /** Offset of the crop in the resized image. */
  left: number;
  top: number;
  crop: number;
}

/** The geometry `rgbResizedCropped(image, shortSide, crop)` applies. */
export function cropGeometry(imageWidth: number, imageHeight: number, shortSide: number, crop = shortSide): CropGeometry {
  const scale = shortSide / Math.min(imageWidth, imageHeight);
  const resizedWidth = Math.max(crop, Math.round(imageWidth * scale));
  const resizedHeight = Math.max(crop, Math.round(imageHeight * scale));
  return {
    imageWidth,
    imageHeight,
    resizedWidth,
    resizedHeight,
    left: Math.floor((resizedWidth - crop) / 2),
    top: Math.floor((resizedHeight - crop) / 2),
    crop,
  };
}

/** A position inside the crop in 0…1 (u across, v down). */
export interface UnitPoint {
  u: number;
  v: number;
}

export interface ImagePoint {
  x: number;
  y: number;
}

/** Original-image pixel coordinates → crop units; `inside` is false for points the encoder never saw. */
export function imageToUnit(g: CropGeometry, p: ImagePoint): UnitPoint & { inside: boolean } {
  const u = ((p.x * g.resizedWidth) / g.imageWidth - g.left) / g.crop;
  const v = ((p.y * g.resizedHeight) / g.imageHeight - g.top) / g.crop;
  return { u, v, inside: u >= 0 && u <= 1 && v >= 0 && v <= 1 };
}

/** Crop units → original-image pixel coordinates. */
export function unitToImage(g: CropGeometry, p: UnitPoint): ImagePoint {
  return {
    x: ((p.u * g.crop + g.left) * g.imageWidth) / g.resizedWidth,
    y: ((p.v * g.crop + g.top) * g.imageHeight) / g.resizedHeight,
  };
}

/** The token (row, col) of a grid that covers a unit point (clamped to the grid). */
export function unitToCell(p: UnitPoint, height: number, width: number): { row: number; col: number; token: number } {
  const col = Math.min(width - 1, Math.max(0, Math.floor(p.u * width)));
  const row = Math.min(height - 1, Math.max(0, Math.floor(p.v * height)));
  return { row, col, token: row * width + col };
}

/** The centre of a grid cell in unit coordinates. */
export function cellCenter(row: number, col: number, height: number, width: number): UnitPoint {
  return { u: (col + 0.5) / width, v: (row + 0.5) / height };
}

/** The center-cropped square the encoders see, as RGB at display size. */
export async function encoderView(image: LoadedImage, size: number): Promise<RgbImage> {
  return rgbResizedCropped(image, size, size, 'lanczos3');
}
