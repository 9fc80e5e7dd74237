/**
 * Perceptual colour maps (viridis, magma) for heat maps and attention
 * overlays. Rather than shipping a 256-row table, we keep the published
 * nine-stop control points of each map (the values viridisLite's
 * `viridis(9)` / `magma(9)` return) and generate the 256-entry lookup table
 * from them: convert the stops to CIELAB, interpolate L*, a*, b* with a
 * monotone piecewise cubic (Fritsch–Carlson), and convert back to sRGB.
 * L* rises monotonically through the stops and the monotone cubic keeps it
 * so, which makes the table's luminance monotonic — the property that makes
 * these maps readable in greyscale and fair to low and high values alike.
 */
import type { RgbImage } from '../image/image.js';

export type ColormapName = 'viridis' | 'magma';

export const COLORMAPS: readonly ColormapName[] = ['viridis', 'magma'];

/** Published control points at t = 0, 1/8, …, 1 (sRGB hex). */
const STOPS: Record<ColormapName, readonly string[]> = {
  viridis: ['440154', '472d7b', '3b528b', '2c728e', '21908c', '27ad81', '5dc863', 'aadc32', 'fde725'],
  magma: ['000004', '1d1147', '51127c', '822681', 'b63679', 'e65164', 'fb8861', 'fec287', 'fcfdbf'],
};

const WHITE = [0.95047, 1, 1.08883] as const;
const EPS = 6 / 29;

function toLinear(c: number): number {
  return c <= 0.04045 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
}

function fromLinear(c: number): number {
  return c <= 0.0031308 ? 12.92 * c : 1.055 * c ** (1 / 2.4) - 0.055;
}

function labF(t: number): number {
  return t > EPS ** 3 ? Math.cbrt(t) : t / (3 * EPS * EPS) + 4 / 29;
}

function labFInv(u: number): number {
  return u > EPS ? u ** 3 : 3 * EPS * EPS * (u - 4 / 29);
}

/** sRGB in 0…1 → CIELAB (D65). */
export function srgbToLab(r: number, g: number, b: number): [number, number, number] {
  const R = toLinear(r);
  const G = toLinear(g);
  const B = toLinear(b);
  const X = 0.4124564 * R + 0.3575761 * G + 0.1804375 * B;
  const Y = 0.2126729 * R + 0.7151522 * G + 0.072175 * B;
  const Z = 0.0193339 * R + 0.119192 * G + 0.9503041 * B;
  const fx = labF(X / WHITE[0]);
  const fy = labF(Y / WHITE[1]);
  const fz = labF(Z / WHITE[2]);
  return [116 * fy - 16, 500 * (fx - fy), 200 * (fy - fz)];
}

/** CIELAB (D65) → sRGB in 0…1, clamped to the gamut. */
export function labToSrgb(L: number, a: number, b: number): [number, number, number] {
  const fy = (L + 16) / 116;
  const X = WHITE[0] * labFInv(fy + a / 500);
  const Y = WHITE[1] * labFInv(fy);
  const Z = WHITE[2] * labFInv(fy - b / 200);
  const R = 3.2404542 * X - 1.5371385 * Y - 0.4985314 * Z;
  const G = -0.969266 * X + 1.8760108 * Y + 0.041556 * Z;
  const B = 0.0556434 * X - 0.2040259 * Y + 1.0572252 * Z;
  const c = (v: number) => Math.min(1, Math.max(0, fromLinear(Math.max(0, v))));
  return [c(R), c(G), c(B)];
}

/** Relative luminance (WCAG / Rec. 709) of an sRGB colour in 0…1. */
export function luminance(r: number, g: number, b: number): number {
  return 0.2126729 * toLinear(r) + 0.7151522 * toLinear(g) + 0.072175 * toLinear(b);
}

/** Fritsch–Carlson tangents for a monotone piecewise cubic through (x, y). */
function monotoneTangents(x: number[], y: number[]): number[] {
  const n = x.length;
  const d = Array.from({ length: n - 1 }, (_, k) => (y[k + 1] - y[k]) / (x[k + 1] - x[k]));
  const m = new Array<number>(n);
  m[0] = d[0];
  m[n - 1] = d[n - 2];
  for (let k = 1; k < n - 1; k++) m[k] = d[k - 1] * d[k] <= 0 ? 0 : (d[k - 1] + d[k]) / 2;
  for (let k = 0; k < n - 1; k++) {
    if (d[k] === 0) {
      m[k] = 0;
      m[k + 1] = 0;
      continue;
    }
    const a = m[k] / d[k];
    const b = m[k + 1] / d[k];
    const r = a * a + b * b;
    if (r > 9) {
      const tau = 3 / Math.sqrt(r);
      m[k] = tau * a * d[k];
      m[k + 1] = tau * b * d[k];
    }
  }
  return m;
}

/** Cubic Hermite evaluation of the interpolant at t. */
function hermite(x: number[], y: number[], m: number[], t: number): number {
  let k = 0;
  while (k < x.length - 2 && t > x[k + 1]) k++;
  const h = x[k + 1] - x[k];
  const s = (t - x[k]) / h;
  const s2 = s * s;
  const s3 = s2 * s;
  return (2 * s3 - 3 * s2 + 1) * y[k] + (s3 - 2 * s2 + s) * h * m[k] + (-2 * s3 + 3 * s2) * y[k + 1] + (s3 - s2) * h * m[k + 1];
}

export interface ColormapLut {
  name: ColormapName;
  /** 256 × RGB in 0…1. */
  float: Float32Array;
  /** 256 × RGB, 8 bits. */
  bytes: Uint8Array;
}

const cache = new Map<ColormapName, ColormapLut>();

/** The 256-entry table of a colour map, generated once from its stops. */
export function colormapLut(name: ColormapName = 'viridis'): ColormapLut {
  const hit = cache.get(name);
  if (hit) return hit;
  const stops = STOPS[name];
  if (!stops) throw new Error(`unknown colour map ${name}`);
  const x = stops.map((_, i) => i / (stops.length - 1));
  const lab = stops.map((hex) => srgbToLab(parseInt(hex.slice(0, 2), 16) / 255, parseInt(hex.slice(2, 4), 16) / 255, parseInt(hex.slice(4, 6), 16) / 255));
  const channels = [0, 1, 2].map((c) => lab.map((v) => v[c]));
  const tangents = channels.map((y) => monotoneTangents(x, y));
  const float = new Float32Array(256 * 3);
  const bytes = new Uint8Array(256 * 3);
  for (let i = 0; i < 256; i++) {
    const t = i / 255;
    const [L, a, b] = channels.map((y, c) => hermite(x, y, tangents[c], t));
    const rgb = labToSrgb(L, a, b);
    for (let c = 0; c < 3; c++) {
      float[i * 3 + c] = rgb[c];
      bytes[i * 3 + c] = Math.round(rgb[c] * 255);
    }
  }
  const lut = { name, float, bytes };
  cache.set(name, lut);
  return lut;
}

/** Colour values in 0…1 (row-major, height × width) with a colour map. */
export function colorize(values01: ArrayLike<number>, width: number, height: number, name: ColormapName = 'viridis'): RgbImage {
  if (values01.length !== width * height) throw new Error(`colorize: ${values01.length} values for ${width}×${height}`);
  const lut = colormapLut(name).bytes;
  const data = new Uint8Array(width * height * 3);
  for (let i = 0; i < values01.length; i++) {
    const v = values01[i];
    const k = Number.isFinite(v) ? Math.round(Math.min(1, Math.max(0, v)) * 255) : 0;
    data[i * 3] = lut[k * 3];
    data[i * 3 + 1] = lut[k * 3 + 1];
    data[i * 3 + 2] = lut[k * 3 + 2];
  }
  return { width, height, data };
}
