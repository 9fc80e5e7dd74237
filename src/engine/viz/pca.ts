/**
 * PCA of feature maps to RGB, as in the study's figures: the three leading
 * principal components of the tokens' features become red, green and blue.
 * Fitting on several maps at once (images, timesteps of one tap) puts them in
 * one colour space, so the same colour means the same feature direction in
 * every panel; the per-component min/max scaling is shared too.
 *
 * The eigen-decomposition is ml-pca's (ml-matrix EVD). We hand it the smaller
 * of the two scatter matrices: X·Xᵀ (tokens × tokens) when there are fewer
 * tokens than channels (1280-channel taps, 1024-channel CLIP patches), XᵀX
 * otherwise — the same principal axes at a fraction of the cost of an SVD of
 * X. Fits on more than `maxFitTokens` tokens use a fixed pseudo-random subset
 * of them (projection always covers every token).
 */
import { PCA } from 'ml-pca';
import type { RgbImage } from '../image/image.js';
import { TwinLensError } from '../../shared/errors.js';
import { checkGrid, type FeatureGrid, type Range } from './maps.js';

export interface PcaOptions {
  /** Components to keep (3 for RGB). */
  components?: number;
  /** Fit on at most this many tokens (a fixed pseudo-random subset over all maps). */
  maxFitTokens?: number;
}

export interface PcaFit {
  channels: number;
  /** Components actually found (≤ requested when the data has lower rank). */
  components: number;
  mean: Float64Array;
  /** Unit principal axes, [components, channels] row-major, strongest first. */
  axes: Float64Array;
  /** Variance along each axis (sample variance, n − 1). */
  variances: number[];
  /** Fraction of the total variance each axis explains. */
  explained: number[];
  fitTokens: number;
}

export const DEFAULT_MAX_FIT_TOKENS = 384;

/**
 * Token indices (over the concatenation) used for the fit: all of them, or a
 * fixed pseudo-random subset (a seeded partial Fisher–Yates shuffle, sorted).
 * Random rather than strided, so a stride cannot alias with the grid and
 * drop whole rows or columns; seeded, so figures are reproducible.
 */
function fitIndices(total: number, cap: number): Int32Array {
  const all = Int32Array.from({ length: total }, (_, i) => i);
  if (total <= cap) return all;
  // Marsaglia's xorshift32, fixed seed.
  let state = 0x2545f491;
  const next = () => {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    return (state >>> 0) / 4294967296;
  };
  for (let j = 0; j < cap; j++) {
    const k = j + Math.floor(next() * (total - j));
    const tmp = all[j];
    all[j] = all[k];
    all[k] = tmp;
  }
  return all.slice(0, cap).sort();
}

/** Eigenvalues and eigenvectors (columns) of a symmetric matrix, descending, via ml-pca. */
function symmetricEigen(m: number[][]): { values: number[]; vectors: number[][] } {
  const pca = new PCA(m, { isCovarianceMatrix: true });
  return { values: pca.getEigenvalues().map((v) => Math.max(0, v)), vectors: pca.getEigenvectors().to2DArray() };
}

/** Fit PCA jointly on the tokens of one or more maps with the same channels. */
export function fitPca(maps: FeatureGrid[], opts: PcaOptions = {}): PcaFit {
  if (!maps.length) throw new TwinLensError('INVALID_ARGUMENT', 'PCA needs at least one feature map');
  const C = maps[0].channels;
  for (const [i, m] of maps.entries()) {
    checkGrid(m, `PCA map ${i}`);
    if (m.channels !== C)
      throw new TwinLensError('INVALID_ARGUMENT', `PCA: map ${i} has ${m.channels} channels, map 0 has ${C}`, 'Fit jointly only maps of the same tap');
  }
  const counts = maps.map((m) => m.height * m.width);
  const total = counts.reduce((a, b) => a + b, 0);
  const idx = fitIndices(total, Math.max(2, opts.maxFitTokens ?? DEFAULT_MAX_FIT_TOKENS));
  const n = idx.length;
  // Gather the fit rows (float64) and center them.
  const X = new Float64Array(n * C);
  let mapIdx = 0;
  let base = 0;
  for (let r = 0; r < n; r++) {
    let g = idx[r];
    while (g >= base + counts[mapIdx]) base += counts[mapIdx++];
    g -= base;
    const src = maps[mapIdx].data;
    for (let c = 0; c < C; c++) X[r * C + c] = src[g * C + c];
  }
  const mean = new Float64Array(C);
  for (let r = 0; r < n; r++) for (let c = 0; c < C; c++) mean[c] += X[r * C + c];
  for (let c = 0; c < C; c++) mean[c] /= n;
  for (let r = 0; r < n; r++) for (let c = 0; c < C; c++) X[r * C + c] -= mean[c];

  const k = Math.max(1, Math.min(opts.components ?? 3, C, n));
  const axes = new Float64Array(k * C);
  let eig: { values: number[]; vectors: number[][] };
  if (n <= C) {
    // Gram matrix G = X·Xᵀ; axis_i = Xᵀ·u_i / sqrt(λ_i).
    const G: number[][] = Array.from({ length: n }, () => new Array<number>(n));
    for (let i = 0; i < n; i++) {
      for (let j = 0; j <= i; j++) {
        let s = 0;
        const oi = i * C;
        const oj = j * C;
        for (let c = 0; c < C; c++) s += X[oi + c] * X[oj + c];
        G[i][j] = s;
        G[j][i] = s;
      }
    }
    eig = symmetricEigen(G);
    for (let a = 0; a < k; a++) {
      const lambda = eig.values[a];
      if (!(lambda > 1e-12 * (eig.values[0] || 1))) continue;
      const inv = 1 / Math.sqrt(lambda);
      for (let r = 0; r < n; r++) {
        const u = eig.vectors[r][a] * inv;
        if (u === 0) continue;
        for (let c = 0; c < C; c++) axes[a * C + c] += u * X[r * C + c];
      }
    }
  } else {
    // Scatter matrix XᵀX: its eigenvectors are the axes.
    const S: number[][] = Array.from({ length: C }, () => new Array<number>(C).fill(0));
    for (let r = 0; r < n; r++) {
      const o = r * C;
      for (let i = 0; i < C; i++) {
        const xi = X[o + i];
        if (xi === 0) continue;
        const row = S[i];
        for (let j = 0; j <= i; j++) row[j] += xi * X[o + j];
      }
    }
    for (let i = 0; i < C; i++) for (let j = 0; j < i; j++) S[j][i] = S[i][j];
    eig = symmetricEigen(S);
    for (let a = 0; a < k; a++) {
      if (!(eig.values[a] > 1e-12 * (eig.values[0] || 1))) continue;
      for (let c = 0; c < C; c++) axes[a * C + c] = eig.vectors[c][a];
    }
  }
  // Deterministic sign: each axis' largest-magnitude loading is positive.
  for (let a = 0; a < k; a++) {
    let big = 0;
    for (let c = 0; c < C; c++) if (Math.abs(axes[a * C + c]) > Math.abs(big)) big = axes[a * C + c];
    if (big < 0) for (let c = 0; c < C; c++) axes[a * C + c] = -axes[a * C + c];
  }
  const trace = eig.values.reduce((s, v) => s + v, 0);
  const denom = Math.max(1, n - 1);
  const variances = eig.values.slice(0, k).map((v) => v / denom);
  const explained = eig.values.slice(0, k).map((v) => (trace > 0 ? v / trace : 0));
  return { channels: C, components: k, mean, axes, variances, explained, fitTokens: n };
}

/** Project every token of a map onto the fitted axes: [H·W, components]. */
export function projectPca(fit: PcaFit, map: FeatureGrid): Float32Array {
  checkGrid(map);
  if (map.channels !== fit.channels) throw new TwinLensError('INVALID_ARGUMENT', `PCA: map has ${map.channels} channels, the fit ${fit.channels}`);
  const n = map.height * map.width;
  const C = fit.channels;
  const k = fit.components;
  const out = new Float32Array(n * k);
  const row = new Float64Array(C);
  for (let t = 0; t < n; t++) {
    for (let c = 0; c < C; c++) row[c] = map.data[t * C + c] - fit.mean[c];
    for (let a = 0; a < k; a++) {
      let s = 0;
      const o = a * C;
      for (let c = 0; c < C; c++) s += row[c] * fit.axes[o + c];
      out[t * k + a] = s;
    }
  }
  return out;
}

export interface PcaRgbResult {
  fit: PcaFit;
  /** Per map, [H·W, components] projections (hover values). */
  projections: Float32Array[];
  /** Per component, the shared min/max that maps to 0…255. */
  ranges: Range[];
  /** Per map, an H×W RGB image (one pixel per token). */
  images: RgbImage[];
}

/**
 * PCA to RGB over one or more maps, fitted jointly: component i → channel i,
 * scaled by the min/max of that component over all maps. Missing components
 * (rank < 3) leave their channel at 0.
 */
export function pcaRgb(maps: FeatureGrid[], opts: PcaOptions = {}): PcaRgbResult {
  const fit = fitPca(maps, { ...opts, components: 3 });
  const projections = maps.map((m) => projectPca(fit, m));
  const k = fit.components;
  const ranges: Range[] = [];
  for (let a = 0; a < k; a++) {
    let min = Infinity;
    let max = -Infinity;
    for (const p of projections) {
      for (let t = a; t < p.length; t += k) {
        if (p[t] < min) min = p[t];
        if (p[t] > max) max = p[t];
      }
    }
    ranges.push({ min, max });
  }
  const images = maps.map((m, i) => {
    const p = projections[i];
    const n = m.height * m.width;
    const data = new Uint8Array(n * 3);
    for (let t = 0; t < n; t++) {
      for (let a = 0; a < k; a++) {
        const { min, max } = ranges[a];
        const v = max > min ? (p[t * k + a] - min) / (max - min) : 0.5;
        data[t * 3 + a] = Math.round(255 * Math.min(1, Math.max(0, v)));
      }
    }
    return { width: m.width, height: m.height, data };
  });
  return { fit, projections, ranges, images };
}
