/**
 * PCA against a decomposition known by construction: tokens = mean + Σ σ_i z_i q_iᵀ
 * with orthonormal axes q_i, zero-mean mutually orthogonal ±1 patterns z_i
 * (Walsh functions) and σ = 3, 2, 1. The fit must find q_i (up to sign) in
 * that order, explained variances 9:4:1, projections ±σ_i z_i — on both
 * routes (fewer tokens than channels: Gram matrix; more: scatter matrix),
 * jointly over several maps, and with a subsampled fit.
 */
import { describe, expect, it } from 'vitest';
import type { FeatureGrid } from '../../../src/engine/viz/maps.js';
import { fitPca, pcaRgb, projectPca } from '../../../src/engine/viz/pca.js';

/** Walsh function k on n = 2^m points: ±1, zero mean for k > 0, mutually orthogonal. */
function walsh(k: number, n: number): number[] {
  return Array.from({ length: n }, (_, t) => {
    let bits = k & t;
    let parity = 0;
    while (bits) {
      parity ^= bits & 1;
      bits >>= 1;
    }
    return parity ? -1 : 1;
  });
}

/** C×3 orthonormal columns from fixed vectors by Gram–Schmidt. */
function axes(C: number): number[][] {
  const raw = [0, 1, 2].map((a) => Array.from({ length: C }, (_, c) => Math.sin(1.3 * (a + 1) * (c + 1)) + (c === a ? 2 : 0)));
  const out: number[][] = [];
  for (const v of raw) {
    const w = [...v];
    for (const q of out) {
      const d = w.reduce((s, x, i) => s + x * q[i], 0);
      for (let i = 0; i < C; i++) w[i] -= d * q[i];
    }
    const n = Math.hypot(...w);
    out.push(w.map((x) => x / n));
  }
  return out;
}

const SIGMA = [3, 2, 1];

function build(n: number, C: number, side: [number, number], patterns = [1, 2, 3]): { grid: FeatureGrid; q: number[][]; z: number[][] } {
  const q = axes(C);
  const z = patterns.map((k) => walsh(k, n));
  const data = new Float32Array(n * C);
  for (let t = 0; t < n; t++) {
    for (let c = 0; c < C; c++) {
      let v = 0.5 + 0.1 * c; // the mean
      for (let a = 0; a < 3; a++) v += SIGMA[a] * z[a][t] * q[a][c];
      data[t * C + c] = v;
    }
  }
  return { grid: { height: side[0], width: side[1], channels: C, data }, q, z };
}

function dot(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * b[i];
  return s;
}

function check(grid: FeatureGrid, q: number[][], z: number[][], n: number) {
  const fit = fitPca([grid]);
  expect(fit.components).toBe(3);
  const C = grid.channels;
  for (let a = 0; a < 3; a++) {
    const axis = fit.axes.subarray(a * C, (a + 1) * C);
    expect(Math.abs(dot(axis, q[a]))).toBeCloseTo(1, 5);
    expect(dot(axis, axis)).toBeCloseTo(1, 6);
  }
  expect(fit.explained[0]).toBeCloseTo(9 / 14, 5);
  expect(fit.explained[1]).toBeCloseTo(4 / 14, 5);
  expect(fit.explained[2]).toBeCloseTo(1 / 14, 5);
  fit.variances.forEach((v, a) => expect(v).toBeCloseTo((SIGMA[a] ** 2 * n) / (n - 1), 4));
  const p = projectPca(fit, grid);
  for (let a = 0; a < 3; a++) {
    const sign = Math.sign(p[a]) * Math.sign(z[a][0]);
    for (let t = 0; t < n; t++) expect(p[t * 3 + a]).toBeCloseTo(sign * SIGMA[a] * z[a][t], 4);
  }
  return fit;
}

describe('fitPca', () => {
  it('recovers known axes, order and variances with fewer tokens than channels (Gram route)', () => {
    const { grid, q, z } = build(8, 20, [2, 4]);
    check(grid, q, z, 8);
  });

  it('recovers them with more tokens than channels (scatter route)', () => {
    const { grid, q, z } = build(64, 6, [8, 8]);
    check(grid, q, z, 64);
  });

  it('gives each axis a deterministic sign (largest loading positive)', () => {
    const { grid } = build(16, 10, [4, 4]);
    const fit = fitPca([grid]);
    for (let a = 0; a < fit.components; a++) {
      const ax = Array.from(fit.axes.subarray(a * 10, (a + 1) * 10));
      const big = ax.reduce((m, v) => (Math.abs(v) > Math.abs(m) ? v : m), 0);
      expect(big).toBeGreaterThan(0);
    }
  });

  it('fits jointly: two maps give the fit of their concatenation', () => {
    const { grid } = build(32, 12, [4, 8]);
    const half = 16 * 12;
    const a: FeatureGrid = { height: 4, width: 4, channels: 12, data: grid.data.slice(0, half) };
    const b: FeatureGrid = { height: 4, width: 4, channels: 12, data: grid.data.slice(half) };
    const joint = fitPca([a, b]);
    const whole = fitPca([grid]);
    expect(joint.explained[0]).toBeCloseTo(whole.explained[0], 6);
    for (let i = 0; i < joint.axes.length; i++) expect(joint.axes[i]).toBeCloseTo(whole.axes[i], 6);
  });

  it('subsamples the fit above maxFitTokens and still finds the axes', () => {
    const { grid, q } = build(256, 8, [16, 16]);
    const fit = fitPca([grid], { maxFitTokens: 64 });
    expect(fit.fitTokens).toBe(64);
    for (let a = 0; a < 3; a++) expect(Math.abs(dot(fit.axes.subarray(a * 8, (a + 1) * 8), q[a]))).toBeGreaterThan(0.99);
  });

  it('handles rank below 3 and rejects mismatched channels', () => {
    const data = new Float32Array(4 * 5);
    for (let t = 0; t < 4; t++) data[t * 5] = t; // rank 1
    const fit = fitPca([{ height: 2, width: 2, channels: 5, data }]);
    expect(fit.explained[0]).toBeCloseTo(1, 6);
    expect(fit.explained[1]).toBeCloseTo(0, 6);
    expect(() =>
      fitPca([
        { height: 2, width: 2, channels: 5, data },
        { height: 1, width: 1, channels: 4, data: new Float32Array(4) },
      ]),
    ).toThrow(/channels/);
  });
});

describe('pcaRgb', () => {
  it('maps each component to a channel with shared min/max across maps', () => {
    const { grid } = build(32, 12, [4, 8]);
    const half = 16 * 12;
    const a: FeatureGrid = { height: 4, width: 4, channels: 12, data: grid.data.slice(0, half) };
    const b: FeatureGrid = { height: 4, width: 4, channels: 12, data: grid.data.slice(half) };
    const res = pcaRgb([a, b]);
    expect(res.images.map((i) => [i.width, i.height])).toEqual([
      [4, 4],
      [4, 4],
    ]);
    for (let c = 0; c < 3; c++) {
      const values = [...res.images[0].data, ...res.images[1].data].filter((_, i) => i % 3 === c);
      expect(Math.min(...values)).toBe(0);
      expect(Math.max(...values)).toBe(255);
      // ±σ patterns → only the two ends of the range.
      expect(new Set(values)).toEqual(new Set([0, 255]));
    }
    expect(res.ranges[0].max).toBeCloseTo(3, 4);
    expect(res.ranges[0].min).toBeCloseTo(-3, 4);
  });
});
