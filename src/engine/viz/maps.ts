/**
 * Feature maps as the visualisations see them, and the simple maps derived
 * from one: the conditional / unconditional / difference (cond − uncond)
 * branches of a tap, the per-token L2 norm, single channels, and the
 * strongest channels by variance or mean activation. Everything here is pure
 * arithmetic on [H·W, C] float32 grids (row-major tokens, as in the
 * contract's FeatureMap), so it is tested in isolation and shared by the CLI
 * export and the engine's visualize method.
 */
import type { TapFeatures } from '../../shared/contract.js';
import { TwinLensError } from '../../shared/errors.js';

/** Tokens × channels on a height × width grid: [H·W, C], row-major tokens. */
export interface FeatureGrid {
  height: number;
  width: number;
  channels: number;
  data: Float32Array;
}

/** One value per token on a height × width grid, row-major. */
export interface ScalarMap {
  height: number;
  width: number;
  data: Float32Array;
}

export type ChannelRanking = 'variance' | 'mean';

export function checkGrid(f: FeatureGrid, what = 'feature map'): void {
  const n = f.height * f.width * f.channels;
  if (!(f.height > 0 && f.width > 0 && f.channels > 0) || f.data.length !== n) {
    throw new TwinLensError('INVALID_ARGUMENT', `${what}: ${f.height}×${f.width}×${f.channels} needs ${n} values, has ${f.data.length}`);
  }
}

export function sameShape(a: FeatureGrid, b: FeatureGrid, what: string): void {
  if (a.height !== b.height || a.width !== b.width || a.channels !== b.channels) {
    throw new TwinLensError(
      'INVALID_ARGUMENT',
      `${what}: shapes differ (${a.height}×${a.width}×${a.channels} vs ${b.height}×${b.width}×${b.channels})`,
      'Compare maps of the same tap from the same pack',
    );
  }
}

/** The difference map f_c − f_u: what the question adds to the features. */
export function differenceMap(cond: FeatureGrid, uncond: FeatureGrid): FeatureGrid {
  checkGrid(cond, 'cond');
  checkGrid(uncond, 'uncond');
  sameShape(cond, uncond, 'difference');
  const data = new Float32Array(cond.data.length);
  for (let i = 0; i < data.length; i++) data[i] = cond.data[i] - uncond.data[i];
  return { height: cond.height, width: cond.width, channels: cond.channels, data };
}

export interface TapBranches {
  /** f_u + s·(f_c − f_u), the features the LLM sees. */
  guided: FeatureGrid;
  cond?: FeatureGrid;
  uncond?: FeatureGrid;
  /** cond − uncond; present when both branches were kept. */
  difference?: FeatureGrid;
}

/** Split a tap returned with keepBranches into its branches as grids. */
export function tapBranches(tap: TapFeatures): TapBranches {
  const shape = { height: tap.height, width: tap.width, channels: tap.channels };
  const out: TapBranches = { guided: { ...shape, data: tap.data } };
  if (tap.cond) out.cond = { ...shape, data: tap.cond };
  if (tap.uncond) out.uncond = { ...shape, data: tap.uncond };
  if (out.cond && out.uncond) out.difference = differenceMap(out.cond, out.uncond);
  return out;
}

/** Per-token L2 norm: where the layer responds strongly. */
export function normMap(f: FeatureGrid): ScalarMap {
  checkGrid(f);
  const n = f.height * f.width;
  const data = new Float32Array(n);
  for (let t = 0; t < n; t++) {
    let s = 0;
    const o = t * f.channels;
    for (let c = 0; c < f.channels; c++) s += f.data[o + c] * f.data[o + c];
    data[t] = Math.sqrt(s);
  }
  return { height: f.height, width: f.width, data };
}

export function channelMap(f: FeatureGrid, channel: number): ScalarMap {
  checkGrid(f);
  if (!Number.isInteger(channel) || channel < 0 || channel >= f.channels)
    throw new TwinLensError('INVALID_ARGUMENT', `channel ${channel} is outside 0…${f.channels - 1}`);
  const n = f.height * f.width;
  const data = new Float32Array(n);
  for (let t = 0; t < n; t++) data[t] = f.data[t * f.channels + channel];
  return { height: f.height, width: f.width, data };
}

/** Per-channel mean and (population) variance over tokens, in float64. */
export function channelStats(f: FeatureGrid): { mean: Float64Array; variance: Float64Array } {
  checkGrid(f);
  const n = f.height * f.width;
  const C = f.channels;
  const mean = new Float64Array(C);
  const variance = new Float64Array(C);
  for (let t = 0; t < n; t++) for (let c = 0; c < C; c++) mean[c] += f.data[t * C + c];
  for (let c = 0; c < C; c++) mean[c] /= n;
  for (let t = 0; t < n; t++) {
    for (let c = 0; c < C; c++) {
      const d = f.data[t * C + c] - mean[c];
      variance[c] += d * d;
    }
  }
  for (let c = 0; c < C; c++) variance[c] /= n;
  return { mean, variance };
}

/**
 * The k strongest channels, strongest first: by spatial variance (channels
 * that draw structure) or by mean activation. Ties keep channel order.
 */
export function topChannels(f: FeatureGrid, k: number, by: ChannelRanking = 'variance'): number[] {
  const { mean, variance } = channelStats(f);
  const score = by === 'variance' ? variance : mean;
  const order = Array.from({ length: f.channels }, (_, c) => c);
  order.sort((a, b) => score[b] - score[a] || a - b);
  return order.slice(0, Math.max(0, Math.min(k, f.channels)));
}

export interface ChannelGrid {
  channels: number[];
  maps: ScalarMap[];
  scores: number[];
}

/** The top-k channels as scalar maps (a tile each in the channel grid). */
export function strongestChannels(f: FeatureGrid, k: number, by: ChannelRanking = 'variance'): ChannelGrid {
  const { mean, variance } = channelStats(f);
  const channels = topChannels(f, k, by);
  const score = by === 'variance' ? variance : mean;
  return { channels, maps: channels.map((c) => channelMap(f, c)), scores: channels.map((c) => score[c]) };
}

/** Mean over tokens: the pooled feature vector. */
export function meanPool(f: FeatureGrid): Float64Array {
  return channelStats(f).mean;
}

export interface Range {
  min: number;
  max: number;
}

/** Min and max of finite values (0…1 when there are none). */
export function valueRange(values: ArrayLike<number>): Range {
  let min = Infinity;
  let max = -Infinity;
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (!Number.isFinite(v)) continue;
    if (v < min) min = v;
    if (v > max) max = v;
  }
  return min <= max ? { min, max } : { min: 0, max: 1 };
}

/** Values scaled to 0…1 by a range (the map's own by default); a flat map becomes 0.5. */
export function normalize01(values: ArrayLike<number>, range: Range = valueRange(values)): Float32Array {
  const out = new Float32Array(values.length);
  const span = range.max - range.min;
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    out[i] = !(span > 0) || !Number.isFinite(v) ? 0.5 : Math.min(1, Math.max(0, (v - range.min) / span));
  }
  return out;
}
