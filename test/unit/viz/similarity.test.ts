/**
 * Cosine similarity, DIFT-style correspondence (a point finds the same
 * feature in a shifted copy; best match and its cell centre), and the
 * intra-pair measure (token-wise and pooled cosine) on cases whose answer is
 * known.
 */
import { describe, expect, it } from 'vitest';
import type { FeatureGrid } from '../../../src/engine/viz/maps.js';
import { correspondence, cosine, pairSimilarity, similarityMap } from '../../../src/engine/viz/similarity.js';

/** A 4×4 grid, 6 channels, every token a distinct direction. */
function grid(shift = 0): FeatureGrid {
  const H = 4;
  const W = 4;
  const C = 6;
  const data = new Float32Array(H * W * C);
  for (let r = 0; r < H; r++) {
    for (let c = 0; c < W; c++) {
      const sc = (c + shift) % W; // content moves right by `shift`
      const t = r * W + sc;
      for (let k = 0; k < C; k++) data[t * C + k] = Math.sin(0.7 * (r * W + c + 1) * (k + 1)) + 0.1 * k;
    }
  }
  return { height: H, width: W, channels: C, data };
}

describe('cosine', () => {
  it('is 1 for parallel, −1 for opposite, 0 for orthogonal or zero vectors', () => {
    expect(cosine([1, 2, 3], 0, [2, 4, 6], 0, 3)).toBeCloseTo(1, 12);
    expect(cosine([1, 2, 3], 0, [-1, -2, -3], 0, 3)).toBeCloseTo(-1, 12);
    expect(cosine([1, 0], 0, [0, 5], 0, 2)).toBe(0);
    expect(cosine([0, 0], 0, [1, 1], 0, 2)).toBe(0);
    expect(cosine([9, 1, 0], 1, [7, 7, 1, 0], 2, 2)).toBeCloseTo(1, 12);
  });

  it('similarityMap scores every token', () => {
    const g = grid();
    const q = g.data.subarray(5 * 6, 6 * 6);
    const m = similarityMap(q, g);
    expect(m.data[5]).toBeCloseTo(1, 6);
    for (let t = 0; t < 16; t++) expect(m.data[t]).toBeLessThanOrEqual(1 + 1e-6);
  });
});

describe('correspondence', () => {
  it('finds the same feature in a shifted copy and reports cell centres', () => {
    const a = grid(0);
    const b = grid(1);
    // Point in A's cell (row 2, col 1); in B that content sits at col 2.
    const c = correspondence(a, { u: 0.3, v: 0.6 }, b);
    expect(c.source).toMatchObject({ row: 2, col: 1, token: 9 });
    expect(c.best).toMatchObject({ row: 2, col: 2, token: 10 });
    expect(c.best.score).toBeCloseTo(1, 6);
    expect(c.best.point).toEqual({ u: 2.5 / 4, v: 2.5 / 4 });
    expect(c.map.data.length).toBe(16);
  });

  it('within one image the point matches itself', () => {
    const a = grid();
    const c = correspondence(a, { u: 0.99, v: 0.01 }, a);
    expect(c.best.token).toBe(3);
    expect(c.best.token).toBe(c.source.token);
  });

  it('rejects maps with different channels', () => {
    const a = grid();
    expect(() => correspondence(a, { u: 0, v: 0 }, { ...a, channels: 3, data: new Float32Array(48) })).toThrow(/channels/);
  });
});

describe('pairSimilarity', () => {
  it('is 1/1 for identical maps and −1/−1 for negated maps', () => {
    const a = grid();
    expect(pairSimilarity(a, a).tokenwise).toBeCloseTo(1, 6);
    expect(pairSimilarity(a, a).pooled).toBeCloseTo(1, 6);
    const neg = { ...a, data: a.data.map((v) => -v) };
    expect(pairSimilarity(a, neg).tokenwise).toBeCloseTo(-1, 6);
    expect(pairSimilarity(a, neg).pooled).toBeCloseTo(-1, 6);
  });

  it('pooled ignores where features are, token-wise does not', () => {
    const a = grid(0);
    const b = grid(1);
    const s = pairSimilarity(a, b);
    expect(s.pooled).toBeCloseTo(1, 6); // same multiset of tokens
    expect(s.tokenwise).toBeLessThan(0.9);
    expect(s).toMatchObject({ tokens: 16, channels: 6 });
  });

  it('rejects different shapes', () => {
    const a = grid();
    expect(() => pairSimilarity(a, { height: 2, width: 8, channels: 6, data: a.data })).toThrow(/shapes differ/);
  });
});
