/**
 * Folding a fine token grid into a coarser one (space-to-depth): each k×k
 * block of cells becomes one token whose channels are the block's cells in
 * row-major order, (dy, dx, c). A tap at 16×16 folded by 2 gives 8×8 tokens
 * with 4·C channels: the projector and the LLM read as many visual tokens as
 * from an 8×8 tap, and the finer tap's detail (a small object's shape, which
 * an 8×8 tap loses in the mini-world) is still there. A mode asks for it in
 * its manifest (`diffusionFold`), because its projector was trained on it.
 */
import { TwinLensError } from '../../shared/errors.js';
import type { Tokens } from './visual-tokens.js';

export function foldTokens(t: Tokens, k: number): Tokens {
  if (k === 1) return t;
  const g = t.grid;
  if (!g || !Number.isInteger(k) || k < 1 || g.height % k !== 0 || g.width % k !== 0)
    throw new TwinLensError(
      'TAP_NOT_FOUND',
      g
        ? `a ${g.height}×${g.width} tap cannot be folded by ${k}: both sides must be multiples of it`
        : `${t.count} tokens without a grid cannot be folded by ${k}`,
      "Pick the tap the mode's projector was trained on (the pack's mode.diffusion.tap)",
    );
  const H = g.height / k;
  const W = g.width / k;
  const kc = k * t.dim;
  const out = new Float32Array(t.data.length);
  for (let r = 0; r < H; r++)
    for (let q = 0; q < W; q++) {
      const base = (r * W + q) * k * kc;
      for (let dy = 0; dy < k; dy++) {
        // One source row of the block is k·C contiguous values: copied whole.
        const src = ((r * k + dy) * g.width + q * k) * t.dim;
        out.set(t.data.subarray(src, src + kc), base + dy * kc);
      }
    }
  return { data: out, count: H * W, dim: k * kc, grid: { height: H, width: W } };
}
