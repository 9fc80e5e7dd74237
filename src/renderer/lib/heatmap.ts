/**
 * Drawing cross-attention maps over the image. The engine returns one
 * [height·width] map per prompt token (averaged over heads and layers, on
 * the latent grid of the encoder's square center crop); this file normalises
 * a map, colours it, and paints it over the same center crop the encoders
 * saw, so a bright cell sits on the pixels it describes.
 */

/** A perceptually ordered dark-to-bright ramp (black → purple → orange → pale yellow). */
const STOPS: Array<[number, number, number]> = [
  [0, 0, 4],
  [87, 16, 110],
  [188, 55, 84],
  [249, 142, 9],
  [252, 255, 164],
];

export function colormap(v: number): [number, number, number] {
  const x = Math.min(1, Math.max(0, v)) * (STOPS.length - 1);
  const i = Math.min(STOPS.length - 2, Math.floor(x));
  const f = x - i;
  const a = STOPS[i];
  const b = STOPS[i + 1];
  return [a[0] + (b[0] - a[0]) * f, a[1] + (b[1] - a[1]) * f, a[2] + (b[2] - a[2]) * f];
}

/** Row `token` of a [tokens, h·w] map block, min-max normalised to 0..1. */
export function tokenMap(maps: Float32Array, token: number, cells: number): Float32Array {
  const row = maps.subarray(token * cells, (token + 1) * cells);
  let lo = Infinity;
  let hi = -Infinity;
  for (const v of row) {
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  const out = new Float32Array(cells);
  const span = hi - lo;
  for (let i = 0; i < cells; i++) out[i] = span > 1e-12 ? (row[i] - lo) / span : 0;
  return out;
}

/** A small canvas of the map itself, one pixel per latent cell (scaled smoothly when drawn). */
export function heatCanvas(norm: Float32Array, width: number, height: number, alpha = 0.6): HTMLCanvasElement {
  const c = document.createElement('canvas');
  c.width = width;
  c.height = height;
  const ctx = c.getContext('2d');
  if (!ctx) return c;
  const img = ctx.createImageData(width, height);
  for (let i = 0; i < width * height; i++) {
    const [r, g, b] = colormap(norm[i]);
    img.data[i * 4] = r;
    img.data[i * 4 + 1] = g;
    img.data[i * 4 + 2] = b;
    // Faint where attention is low, so the image stays readable.
    img.data[i * 4 + 3] = Math.round(255 * alpha * (0.25 + 0.75 * norm[i]));
  }
  ctx.putImageData(img, 0, 0);
  return c;
}

/** The square center crop of an image: what the encoders see after resize-short-side + crop. */
export function centerCrop(w: number, h: number): { sx: number; sy: number; size: number } {
  const size = Math.min(w, h);
  return { sx: (w - size) / 2, sy: (h - size) / 2, size };
}

/** Paint the image's center crop and, when given, a heat map over it, filling the canvas. */
export function paintOverlay(canvas: HTMLCanvasElement, image: HTMLImageElement | undefined, heat: HTMLCanvasElement | undefined, drawImage = true): void {
  const ctx = canvas.getContext('2d');
  if (!ctx) return;
  ctx.clearRect(0, 0, canvas.width, canvas.height);
  if (drawImage && image && image.naturalWidth > 0) {
    const { sx, sy, size } = centerCrop(image.naturalWidth, image.naturalHeight);
    ctx.drawImage(image, sx, sy, size, size, 0, 0, canvas.width, canvas.height);
  }
  if (heat) {
    ctx.imageSmoothingEnabled = true;
    ctx.imageSmoothingQuality = 'high';
    ctx.drawImage(heat, 0, 0, canvas.width, canvas.height);
  }
}
