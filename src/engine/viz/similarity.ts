/**
 * Similarity of features between images. Correspondence (DIFT-style): the
 * feature of the token under a chosen point in image A is compared by cosine
 * similarity with every token of image B (or of A itself), giving a map and
 * the best match. Pairwise similarity is the study's intra-pair measure for
 * MMVP-style pairs — how alike an encoder finds two images that differ in a
 * detail: the mean cosine of tokens at the same grid position, and the cosine
 * of the mean-pooled features. High values mean the encoder barely tells the
 * pair apart.
 */
import { TwinLensError } from '../../shared/errors.js';
import { checkGrid, type FeatureGrid, meanPool, type ScalarMap, sameShape } from './maps.js';
import { cellCenter, type UnitPoint, unitToCell } from './view.js';

/** Cosine similarity of two vectors (0 when either is all zeros). */
export function cosine(a: ArrayLike<number>, aOff: number, b: ArrayLike<number>, bOff: number, n: number): number {
  let dot = 0;
  let na = 0;
  let nb = 0;
  for (let i = 0; i < n; i++) {
    const x = a[aOff + i];
    const y = b[bOff + i];
    dot += x * y;
    na += x * x;
    nb += y * y;
  }
  return na > 0 && nb > 0 ? dot / Math.sqrt(na * nb) : 0;
}

/** Cosine similarity of one query vector with every token of a map. */
export function similarityMap(query: ArrayLike<number>, target: FeatureGrid): ScalarMap {
  checkGrid(target, 'target');
  if (query.length !== target.channels) throw new TwinLensError('INVALID_ARGUMENT', `query has ${query.length} channels, target ${target.channels}`);
  const n = target.height * target.width;
  const data = new Float32Array(n);
  for (let t = 0; t < n; t++) data[t] = cosine(query, 0, target.data, t * target.channels, target.channels);
  return { height: target.height, width: target.width, data };
}

export interface Match {
  row: number;
  col: number;
  token: number;
  /** Cell centre in crop units. */
  point: UnitPoint;
  score: number;
}

export interface Correspondence {
  /** The token under the chosen point in the source map. */
  source: Match;
  /** Cosine similarity of the source token with every target token. */
  map: ScalarMap;
  /** The most similar target token (first in row-major order on ties). */
  best: Match;
}

/** DIFT-style correspondence of a point in `source` (crop units) over `target`. */
export function correspondence(source: FeatureGrid, point: UnitPoint, target: FeatureGrid): Correspondence {
  checkGrid(source, 'source');
  if (source.channels !== target.channels) {
    throw new TwinLensError(
      'INVALID_ARGUMENT',
      `correspondence: ${source.channels} vs ${target.channels} channels`,
      'Compare features of the same tap (or CLIP with CLIP)',
    );
  }
  const cell = unitToCell(point, source.height, source.width);
  const C = source.channels;
  const query = source.data.subarray(cell.token * C, (cell.token + 1) * C);
  const map = similarityMap(query, target);
  let best = 0;
  for (let t = 1; t < map.data.length; t++) if (map.data[t] > map.data[best]) best = t;
  const bRow = Math.floor(best / target.width);
  const bCol = best % target.width;
  return {
    source: { ...cell, point: cellCenter(cell.row, cell.col, source.height, source.width), score: 1 },
    map,
    best: { row: bRow, col: bCol, token: best, point: cellCenter(bRow, bCol, target.height, target.width), score: map.data[best] },
  };
}

export interface PairSimilarity {
  /** Mean over grid positions of the cosine between the two images' tokens there. */
  tokenwise: number;
  /** Cosine between the two images' mean-pooled features. */
  pooled: number;
  tokens: number;
  channels: number;
}

/** The intra-pair similarity of two images' maps of the same tap. */
export function pairSimilarity(a: FeatureGrid, b: FeatureGrid): PairSimilarity {
  checkGrid(a, 'image A');
  checkGrid(b, 'image B');
  sameShape(a, b, 'pair similarity');
  const n = a.height * a.width;
  const C = a.channels;
  let sum = 0;
  for (let t = 0; t < n; t++) sum += cosine(a.data, t * C, b.data, t * C, C);
  const pa = meanPool(a);
  const pb = meanPool(b);
  return { tokenwise: sum / n, pooled: cosine(pa, 0, pb, 0, C), tokens: n, channels: C };
}
