/**
 * The encoders' view of an image: a short-side resize then a centre square
 * crop. Panels show that square; a click on it is mapped back to the
 * original image's pixel coordinates (what `visualize`'s `point` takes) with
 * the same geometry as src/engine/viz/view.ts.
 */

export interface UnitPoint {
  u: number;
  v: number;
}

/** Crop units (0…1 across the square) → original-image pixels, for a panel of `size` px. */
export function unitToImagePoint(imageWidth: number, imageHeight: number, p: UnitPoint, size = 256): { x: number; y: number } {
  const scale = size / Math.min(imageWidth, imageHeight);
  const rw = Math.max(size, Math.round(imageWidth * scale));
  const rh = Math.max(size, Math.round(imageHeight * scale));
  const left = Math.floor((rw - size) / 2);
  const top = Math.floor((rh - size) / 2);
  return { x: ((p.u * size + left) * imageWidth) / rw, y: ((p.v * size + top) * imageHeight) / rh };
}

/** Original-image pixels → crop units (inverse of unitToImagePoint). */
export function imageToUnitPoint(imageWidth: number, imageHeight: number, p: { x: number; y: number }, size = 256): UnitPoint {
  const scale = size / Math.min(imageWidth, imageHeight);
  const rw = Math.max(size, Math.round(imageWidth * scale));
  const rh = Math.max(size, Math.round(imageHeight * scale));
  const left = Math.floor((rw - size) / 2);
  const top = Math.floor((rh - size) / 2);
  return { u: ((p.x * rw) / imageWidth - left) / size, v: ((p.y * rh) / imageHeight - top) / size };
}

/** The token under a unit point on an H×W grid. */
export function cellAt(p: UnitPoint, height: number, width: number): { row: number; col: number; token: number } {
  const col = Math.min(width - 1, Math.max(0, Math.floor(p.u * width)));
  const row = Math.min(height - 1, Math.max(0, Math.floor(p.v * height)));
  return { row, col, token: row * width + col };
}
