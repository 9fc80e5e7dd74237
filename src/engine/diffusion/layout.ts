/**
 * Normalising tensors read from inside a UNet into one layout. Taps come as
 * token sequences [batch, H·W, C] (attention projections) or as feature maps
 * [batch, C, H, W] (resnets, convolutions); everything downstream (the LLM
 * projector, PCA, exports) wants [H·W, C] on a known H × W grid.
 */
import { TwinLensError } from '../../shared/errors.js';

export interface TokenGrid {
  height: number;
  width: number;
  channels: number;
  /** [height·width, channels]. */
  data: Float32Array;
}

/** Grid of a token count given the latent's aspect ratio (tokens come from a downsampled latent). */
export function gridFor(tokens: number, latentH: number, latentW: number): { height: number; width: number } {
  const ratio = latentW / latentH;
  const h = Math.round(Math.sqrt(tokens / ratio));
  const w = Math.round(tokens / Math.max(1, h));
  if (h * w !== tokens) throw new TwinLensError('INTERNAL', `cannot lay ${tokens} tokens on a grid of aspect ${latentW}:${latentH}`);
  return { height: h, width: w };
}

/** Take batch row `b` of a tap tensor and return it as [H·W, C]. */
export function tapRow(dims: number[], data: Float32Array, b: number, latentH: number, latentW: number, name: string): TokenGrid {
  if (dims.length === 3) {
    const [, n, c] = dims;
    const { height, width } = gridFor(n, latentH, latentW);
    return { height, width, channels: c, data: data.slice(b * n * c, (b + 1) * n * c) };
  }
  if (dims.length === 4) {
    const [, c, h, w] = dims;
    const plane = h * w;
    const out = new Float32Array(plane * c);
    const base = b * c * plane;
    for (let ch = 0; ch < c; ch++) {
      const src = base + ch * plane;
      for (let i = 0; i < plane; i++) out[i * c + ch] = data[src + i];
    }
    return { height: h, width: w, channels: c, data: out };
  }
  throw new TwinLensError(
    'TAP_NOT_FOUND',
    `tap ${name} has shape [${dims.join(',')}], not a token sequence or a feature map`,
    'Choose a tap inside an attention or resnet block',
  );
}

/** f_u + s·(f_c − f_u), elementwise. */
export function guide(uncond: Float32Array, cond: Float32Array, s: number): Float32Array {
  const out = new Float32Array(cond.length);
  for (let i = 0; i < cond.length; i++) out[i] = uncond[i] + s * (cond[i] - uncond[i]);
  return out;
}

/**
 * Cross-attention probabilities [batch·heads, H·W, L] (batch outer, as
 * diffusers lays them out) → the given batch row averaged over heads, as [L, H·W].
 */
export function attentionRow(dims: number[], data: Float32Array, batch: number, b: number): { tokens: number; hw: number; maps: Float32Array } {
  if (dims.length !== 3 || dims[0] % batch !== 0) {
    throw new TwinLensError('INTERNAL', `cross-attention tensor has shape [${dims.join(',')}], expected [batch·heads, HW, tokens]`);
  }
  const heads = dims[0] / batch;
  const hw = dims[1];
  const L = dims[2];
  const maps = new Float32Array(L * hw);
  for (let h = 0; h < heads; h++) {
    const base = (b * heads + h) * hw * L;
    for (let i = 0; i < hw; i++) for (let l = 0; l < L; l++) maps[l * hw + i] += data[base + i * L + l];
  }
  for (let i = 0; i < maps.length; i++) maps[i] /= heads;
  return { tokens: L, hw, maps };
}

/** Bilinear resize of a [C, h·w] stack of maps to [C, H·W] (align_corners=false). */
export function resizeMaps(maps: Float32Array, count: number, h: number, w: number, H: number, W: number): Float32Array {
  if (h === H && w === W) return maps;
  const out = new Float32Array(count * H * W);
  for (let c = 0; c < count; c++) {
    const src = c * h * w;
    const dst = c * H * W;
    for (let y = 0; y < H; y++) {
      const sy = Math.min(Math.max(((y + 0.5) * h) / H - 0.5, 0), h - 1);
      const y0 = Math.floor(sy);
      const y1 = Math.min(y0 + 1, h - 1);
      const fy = sy - y0;
      for (let x = 0; x < W; x++) {
        const sx = Math.min(Math.max(((x + 0.5) * w) / W - 0.5, 0), w - 1);
        const x0 = Math.floor(sx);
        const x1 = Math.min(x0 + 1, w - 1);
        const fx = sx - x0;
        const a = maps[src + y0 * w + x0] * (1 - fx) + maps[src + y0 * w + x1] * fx;
        const b = maps[src + y1 * w + x0] * (1 - fx) + maps[src + y1 * w + x1] * fx;
        out[dst + y * W + x] = a * (1 - fy) + b * fy;
      }
    }
  }
  return out;
}
