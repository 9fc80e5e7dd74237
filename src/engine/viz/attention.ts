/**
 * Cross-attention maps per prompt token: where in the image each word of the
 * question looks. The engine returns them averaged over heads and the chosen
 * layers at one timestep ([tokens, H·W], conditional pass); here they are cut
 * per token, special tokens (start/end/padding) set aside, optionally
 * averaged over the words, and rendered as heat maps upsampled (bilinear)
 * and blended over the encoder's view of the image with a perceptual colour
 * map — the question-word strip of the Features view and the CLI export.
 */
import type { CrossAttentionMaps } from '../../shared/contract.js';
import { TwinLensError } from '../../shared/errors.js';
import type { RgbImage } from '../image/image.js';
import type { ColormapName } from './colormap.js';
import { type Range, type ScalarMap, valueRange } from './maps.js';
import { overlay } from './render.js';

/** Start, end and padding tokens of CLIP/BPE tokenizers. */
export function isSpecialToken(token: string): boolean {
  return /^<\|[^|]*\|>$/.test(token) || /^<\/?s>$/.test(token) || token === '<pad>' || token === '<unk>';
}

/** A token as a readable label (BPE word-end and space markers removed). */
export function tokenLabel(token: string): string {
  const s = token.replace(/<\/w>$/, '').replace(/^[Ġ▁]/, '');
  return s.length ? s : token;
}

/** Indices of the prompt's word tokens (special tokens excluded). */
export function wordTokens(x: CrossAttentionMaps): number[] {
  return x.tokens.map((t, i) => (isSpecialToken(t) ? -1 : i)).filter((i) => i >= 0);
}

function checkMaps(x: CrossAttentionMaps): void {
  const n = x.height * x.width;
  if (x.maps.length !== x.tokens.length * n)
    throw new TwinLensError('INVALID_ARGUMENT', `cross-attention: ${x.maps.length} values for ${x.tokens.length} tokens × ${x.height}×${x.width}`);
}

/** One token's attention map. */
export function attentionMap(x: CrossAttentionMaps, index: number): ScalarMap {
  checkMaps(x);
  if (!Number.isInteger(index) || index < 0 || index >= x.tokens.length)
    throw new TwinLensError('INVALID_ARGUMENT', `token ${index} is outside 0…${x.tokens.length - 1}`);
  const n = x.height * x.width;
  return { height: x.height, width: x.width, data: x.maps.slice(index * n, (index + 1) * n) };
}

/** The mean of several tokens' maps (all word tokens by default). */
export function meanAttention(x: CrossAttentionMaps, indices: number[] = wordTokens(x)): ScalarMap {
  checkMaps(x);
  const n = x.height * x.width;
  const data = new Float32Array(n);
  if (!indices.length) return { height: x.height, width: x.width, data };
  for (const i of indices) {
    const m = attentionMap(x, i).data;
    for (let k = 0; k < n; k++) data[k] += m[k] / indices.length;
  }
  return { height: x.height, width: x.width, data };
}

export interface TokenOverlay {
  index: number;
  token: string;
  label: string;
  map: ScalarMap;
  range: Range;
  image: RgbImage;
}

export interface AttentionStripOptions {
  /** Token indices to draw (default: the word tokens). */
  tokens?: number[];
  colormap?: ColormapName;
  alpha?: number;
  /** 'token': each map scaled to its own min/max (shape); 'shared': one range for all (strength). */
  scale?: 'token' | 'shared';
}

/** Each chosen token's map overlaid on the image (which sets the output size). */
export function attentionStrip(x: CrossAttentionMaps, base: RgbImage, opts: AttentionStripOptions = {}): TokenOverlay[] {
  const indices = opts.tokens ?? wordTokens(x);
  const maps = indices.map((i) => attentionMap(x, i));
  let shared: Range | undefined;
  if (opts.scale === 'shared') {
    const all = new Float32Array(maps.reduce((s, m) => s + m.data.length, 0));
    let o = 0;
    for (const m of maps) {
      all.set(m.data, o);
      o += m.data.length;
    }
    shared = valueRange(all);
  }
  return indices.map((index, k) => {
    const map = maps[k];
    const range = shared ?? valueRange(map.data);
    const token = x.tokens[index];
    return {
      index,
      token,
      label: tokenLabel(token),
      map,
      range,
      image: overlay(base, map, { range, colormap: opts.colormap ?? 'magma', alpha: opts.alpha ?? 0.6, kernel: 'bilinear' }),
    };
  });
}
