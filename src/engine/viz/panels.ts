/**
 * Panels: the pictures of the Features view and of `twinlens export`, each a
 * display-size RGB image plus what a user hovering over it needs (the token
 * grid and the values under each token) and what a figure caption needs
 * (meta). Builders compose the maths (PCA, norms, differences, channel
 * ranking, attention, correspondence) with rendering on the encoder's view.
 */
import type { PanelSource, VisualPanel } from '../../shared/contract.js';
import type { CrossAttentionMaps } from '../../shared/contract.js';
import type { RgbImage } from '../image/image.js';
import { attentionStrip, meanAttention, tokenLabel } from './attention.js';
import type { ColormapName } from './colormap.js';
import { type ChannelRanking, type FeatureGrid, normMap, strongestChannels, valueRange } from './maps.js';
import { pcaRgb, type PcaOptions } from './pca.js';
import { drawMarker, heatmap, overlay, tile } from './render.js';
import { resizeRgb } from './resample.js';
import { correspondence, type Match } from './similarity.js';
import type { UnitPoint } from './view.js';

/** A panel before encoding: the contract's VisualPanel with its picture as pixels, not PNG bytes. */
export interface Panel extends Pick<VisualPanel, 'id' | 'kind' | 'source' | 'label' | 'grid' | 'values' | 'valueNames' | 'meta'> {
  image: RgbImage;
}

export interface StyleOptions {
  colormap?: ColormapName;
  /** Heat-map opacity over the image. */
  alpha?: number;
}

export interface PcaItem {
  id: string;
  label: string;
  source: PanelSource;
  grid: FeatureGrid;
  meta?: Record<string, unknown>;
}

/** The encoder's view as a panel (the reference column of a sheet). */
export function imagePanel(id: string, label: string, base: RgbImage): Panel {
  return { id, kind: 'image', source: 'image', label, image: base };
}

/** PCA→RGB panels fitted jointly over all items (same tap ⇒ same channels). */
export function pcaPanels(items: PcaItem[], size: number, opts: PcaOptions = {}): Panel[] {
  if (!items.length) return [];
  const res = pcaRgb(
    items.map((i) => i.grid),
    opts,
  );
  return items.map((item, k) => ({
    id: item.id,
    kind: 'pca',
    source: item.source,
    label: item.label,
    image: resizeRgb(res.images[k], size, size, 'nearest'),
    grid: { height: item.grid.height, width: item.grid.width },
    values: res.projections[k],
    valueNames: Array.from({ length: res.fit.components }, (_, a) => `PC${a + 1}`),
    meta: { ...item.meta, explained: res.fit.explained, fitTokens: res.fit.fitTokens, jointWith: items.length },
  }));
}

/** Per-token L2 norm as a heat map, over the image when one is given. */
export function normPanel(id: string, label: string, source: PanelSource, grid: FeatureGrid, size: number, base?: RgbImage, style: StyleOptions = {}): Panel {
  const map = normMap(grid);
  const range = valueRange(map.data);
  const colormap = style.colormap ?? 'viridis';
  const image = base ? overlay(base, map, { colormap, alpha: style.alpha ?? 0.6, range }) : heatmap(map, size, size, { colormap, range, kernel: 'nearest' });
  return { id, kind: 'norm', source, label, image, grid: { height: grid.height, width: grid.width }, values: map.data, valueNames: ['‖f‖'], meta: { range } };
}

/**
 * The difference map cond − uncond, shown as its per-token norm over the
 * image: where the question changed the features.
 */
export function differencePanel(id: string, label: string, difference: FeatureGrid, base: RgbImage, style: StyleOptions = {}): Panel {
  const p = normPanel(id, label, 'diffusion', difference, base.width, base, { colormap: style.colormap ?? 'magma', alpha: style.alpha });
  return { ...p, kind: 'difference', valueNames: ['‖f_c − f_u‖'] };
}

/** The k strongest channels as a grid of tiles (each scaled to its own range). */
export function channelsPanel(
  id: string,
  label: string,
  source: PanelSource,
  grid: FeatureGrid,
  size: number,
  k = 9,
  by: ChannelRanking = 'variance',
  style: StyleOptions = {},
): Panel {
  const top = strongestChannels(grid, k, by);
  const cols = Math.ceil(Math.sqrt(top.channels.length));
  const gap = 2;
  const tileSize = Math.max(1, Math.floor((size - (cols - 1) * gap) / cols));
  const tiles = top.maps.map((m) => heatmap(m, tileSize, tileSize, { colormap: style.colormap ?? 'viridis', kernel: 'nearest' }));
  const n = grid.height * grid.width;
  const values = new Float32Array(n * top.channels.length);
  top.maps.forEach((m, c) => {
    for (let t = 0; t < n; t++) values[t * top.channels.length + c] = m.data[t];
  });
  return {
    id,
    kind: 'channels',
    source,
    label,
    image: tile(tiles, cols, gap),
    grid: { height: grid.height, width: grid.width },
    values,
    valueNames: top.channels.map((c) => `ch${c}`),
    meta: { channels: top.channels, scores: top.scores, rankedBy: by },
  };
}

/** One panel per word token of the prompt, plus their mean. */
export function attentionPanels(x: CrossAttentionMaps, base: RgbImage, idPrefix: string, style: StyleOptions & { tokens?: number[] } = {}): Panel[] {
  const colormap = style.colormap ?? 'magma';
  const strip = attentionStrip(x, base, { tokens: style.tokens, colormap, alpha: style.alpha });
  const grid = { height: x.height, width: x.width };
  const panels: Panel[] = strip.map((o) => ({
    id: `${idPrefix}${o.index}-${safeId(o.label)}`,
    kind: 'attention',
    source: 'diffusion',
    label: `“${o.label}”`,
    image: o.image,
    grid,
    values: o.map.data,
    valueNames: ['attention'],
    meta: { token: o.token, index: o.index, range: o.range, layers: x.layers.length },
  }));
  if (strip.length > 1) {
    const mean = meanAttention(
      x,
      strip.map((o) => o.index),
    );
    panels.push({
      id: `${idPrefix}mean`,
      kind: 'attention',
      source: 'diffusion',
      label: 'mean of words',
      image: overlay(base, mean, { colormap, alpha: style.alpha ?? 0.6 }),
      grid,
      values: mean.data,
      valueNames: ['attention'],
      meta: { tokens: strip.map((o) => tokenLabel(o.token)), layers: x.layers.length },
    });
  }
  return panels;
}

export interface CorrespondencePanels {
  source: Panel;
  target: Panel;
  best: Match;
}

/**
 * Correspondence for a point (crop units) of image A over image B: A with the
 * point marked, and B's cosine-similarity map over B with the best match marked.
 */
export function correspondencePanels(
  id: string,
  label: string,
  source: PanelSource,
  a: FeatureGrid,
  b: FeatureGrid,
  point: UnitPoint,
  baseA: RgbImage,
  baseB: RgbImage,
  style: StyleOptions = {},
): CorrespondencePanels {
  const c = correspondence(a, point, b);
  const range = { min: Math.min(0, ...c.map.data), max: 1 };
  const heat = overlay(baseB, c.map, { colormap: style.colormap ?? 'viridis', alpha: style.alpha ?? 0.6, range });
  const marked = drawMarker(heat, c.best.point.u * baseB.width, c.best.point.v * baseB.height);
  const src = drawMarker(baseA, point.u * baseA.width, point.v * baseA.height);
  const meta = { point, sourceToken: c.source, best: c.best };
  return {
    source: {
      id: `${id}-source`,
      kind: 'correspondence',
      source: 'image',
      label: `${label}: point`,
      image: src,
      grid: { height: a.height, width: a.width },
      meta,
    },
    target: {
      id,
      kind: 'correspondence',
      source,
      label,
      image: marked,
      grid: { height: b.height, width: b.width },
      values: c.map.data,
      valueNames: ['cosine'],
      meta,
    },
    best: c.best,
  };
}

export function safeId(s: string): string {
  return s.replace(/[^A-Za-z0-9._-]+/g, '_').replace(/^_+|_+$/g, '') || 'x';
}
