/**
 * Seeded Gaussian noise that the Python reference reproduces bit for bit
 * (training/twinlens_train/noise.py): mulberry32 uniforms, Box–Muller in
 * float64, cast to float32. Using our own generator instead of a library's
 * is what makes "same seed, same features" hold across TypeScript, Python
 * and machines.
 */

import { mulberry32, uniform01 } from '../util/prng.js';

export { mulberry32 };

/** Uniform in the open interval (0, 1). */
export function uniformSource(seed: number): () => number {
  const next = mulberry32(seed);
  return () => uniform01(next);
}

/** n standard-normal values, row-major, as float64 (pairs from Box–Muller: cos then sin). */
export function gaussian64(seed: number, n: number): Float64Array {
  const u = uniformSource(seed);
  const out = new Float64Array(n);
  for (let i = 0; i < n; i += 2) {
    const u1 = u();
    const u2 = u();
    const r = Math.sqrt(-2 * Math.log(u1));
    out[i] = r * Math.cos(2 * Math.PI * u2);
    if (i + 1 < n) out[i + 1] = r * Math.sin(2 * Math.PI * u2);
  }
  return out;
}

export function gaussian(seed: number, n: number): Float32Array {
  return Float32Array.from(gaussian64(seed, n));
}

/** Seed of ensemble draw k (DIFT-style averaging over several noises). */
export function drawSeed(seed: number, k: number): number {
  return (seed + k) >>> 0;
}
