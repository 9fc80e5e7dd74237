import { describe, expect, it } from 'vitest';
import { foldTokens } from '../../../src/engine/fusion/fold-tokens.js';

/** A [h·w, c] grid whose value says where it came from: 1000·row + 10·col + channel. */
function grid(h: number, w: number, c: number) {
  const data = new Float32Array(h * w * c);
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) for (let ch = 0; ch < c; ch++) data[(y * w + x) * c + ch] = 1000 * y + 10 * x + ch;
  return { data, count: h * w, dim: c, grid: { height: h, width: w } };
}

describe('foldTokens (space-to-depth of a diffusion tap)', () => {
  it('puts each k×k block into one token, channels in (dy, dx, c) order', () => {
    const f = foldTokens(grid(4, 6, 2), 2);
    expect(f.grid).toEqual({ height: 2, width: 3 });
    expect([f.count, f.dim]).toEqual([6, 8]);
    // token (1, 2) holds cells (2,4), (2,5), (3,4), (3,5), two channels each
    expect(Array.from(f.data.subarray((1 * 3 + 2) * 8, (1 * 3 + 3) * 8))).toEqual([2040, 2041, 2050, 2051, 3040, 3041, 3050, 3051]);
  });

  it('matches the definition everywhere (the order training folds numpy arrays in: reshape(H,k,W,k,C).transpose(0,2,1,3,4))', () => {
    const [h, w, c, k] = [16, 8, 3, 4];
    const src = grid(h, w, c);
    const f = foldTokens(src, k);
    for (let r = 0; r < h / k; r++)
      for (let q = 0; q < w / k; q++)
        for (let dy = 0; dy < k; dy++)
          for (let dx = 0; dx < k; dx++)
            for (let ch = 0; ch < c; ch++)
              expect(f.data[(r * (w / k) + q) * k * k * c + (dy * k + dx) * c + ch]).toBe(src.data[((r * k + dy) * w + q * k + dx) * c + ch]);
  });

  it('leaves tokens alone at 1 and refuses a grid it cannot fold, saying why', () => {
    const g = grid(6, 6, 1);
    expect(foldTokens(g, 1)).toBe(g);
    expect(() => foldTokens(g, 4)).toThrow(/6×6 tap cannot be folded by 4/);
    expect(() => foldTokens({ data: new Float32Array(4), count: 4, dim: 1 }, 2)).toThrow(/without a grid/);
  });
});
