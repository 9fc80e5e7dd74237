/**
 * Upsampling token grids to display size. Feature maps are tiny (4×4 in the
 * fixtures, 16×16 at the study's best layer, 24×24 for CLIP) and the way they
 * are enlarged changes what a figure says: nearest shows tokens as crisp
 * cells (PCA panels, where each token's colour is the datum), bilinear with
 * half-pixel centres (PyTorch's `interpolate(..., align_corners=False)`)
 * gives the smooth heat maps used for attention overlays. Written here, not
 * delegated to sharp, so the semantics are exact and tested.
 */
import type { RgbImage } from '../image/image.js';
import type { ScalarMap } from './maps.js';

export type UpsampleKernel = 'nearest' | 'bilinear';

/**
 * Resize interleaved channels [H, W, ch] to [outH, outW, ch].
 * Nearest: source cell floor((y + 0.5)·H/outH). Bilinear: sample at
 * ((y + 0.5)·H/outH − 0.5), edges clamped.
 */
export function resizeChannels(
  src: ArrayLike<number>,
  height: number,
  width: number,
  ch: number,
  outH: number,
  outW: number,
  kernel: UpsampleKernel,
): Float32Array {
  if (src.length !== height * width * ch) throw new Error(`resize: ${src.length} values for ${height}×${width}×${ch}`);
  if (!(outH > 0 && outW > 0)) throw new Error(`resize: bad output size ${outW}×${outH}`);
  const out = new Float32Array(outH * outW * ch);
  const sy = height / outH;
  const sx = width / outW;
  if (kernel === 'nearest') {
    const xs = Int32Array.from({ length: outW }, (_, x) => Math.min(width - 1, Math.floor((x + 0.5) * sx)));
    for (let y = 0; y < outH; y++) {
      const yy = Math.min(height - 1, Math.floor((y + 0.5) * sy));
      for (let x = 0; x < outW; x++) {
        const s = (yy * width + xs[x]) * ch;
        const d = (y * outW + x) * ch;
        for (let c = 0; c < ch; c++) out[d + c] = src[s + c];
      }
    }
    return out;
  }
  // Precompute the horizontal taps once.
  const x0 = new Int32Array(outW);
  const x1 = new Int32Array(outW);
  const wx = new Float64Array(outW);
  for (let x = 0; x < outW; x++) {
    const fx = Math.min(width - 1, Math.max(0, (x + 0.5) * sx - 0.5));
    x0[x] = Math.floor(fx);
    x1[x] = Math.min(width - 1, x0[x] + 1);
    wx[x] = fx - x0[x];
  }
  for (let y = 0; y < outH; y++) {
    const fy = Math.min(height - 1, Math.max(0, (y + 0.5) * sy - 0.5));
    const y0 = Math.floor(fy);
    const y1 = Math.min(height - 1, y0 + 1);
    const wy = fy - y0;
    for (let x = 0; x < outW; x++) {
      const a = (y0 * width + x0[x]) * ch;
      const b = (y0 * width + x1[x]) * ch;
      const c0 = (y1 * width + x0[x]) * ch;
      const d0 = (y1 * width + x1[x]) * ch;
      const o = (y * outW + x) * ch;
      for (let c = 0; c < ch; c++) {
        const top = src[a + c] + (src[b + c] - src[a + c]) * wx[x];
        const bottom = src[c0 + c] + (src[d0 + c] - src[c0 + c]) * wx[x];
        out[o + c] = top + (bottom - top) * wy;
      }
    }
  }
  return out;
}

/** A scalar map at a new size. */
export function resizeScalar(map: ScalarMap, outH: number, outW: number, kernel: UpsampleKernel = 'bilinear'): ScalarMap {
  return { height: outH, width: outW, data: resizeChannels(map.data, map.height, map.width, 1, outH, outW, kernel) };
}

/** An RGB image at a new size (values rounded back to 8 bits). */
export function resizeRgb(img: RgbImage, outW: number, outH: number, kernel: UpsampleKernel = 'nearest'): RgbImage {
  if (img.width === outW && img.height === outH) return img;
  const f = resizeChannels(img.data, img.height, img.width, 3, outH, outW, kernel);
  const data = new Uint8Array(f.length);
  for (let i = 0; i < f.length; i++) data[i] = Math.round(Math.min(255, Math.max(0, f[i])));
  return { width: outW, height: outH, data };
}
