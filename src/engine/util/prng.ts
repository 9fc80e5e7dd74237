/**
 * The project's one pseudo-random generator, mulberry32, shared by the
 * diffusion noise (diffusion/noise.ts) and token sampling (llm/sampler.ts).
 * Written out rather than borrowed because "same seed, same result" must hold
 * bit for bit across TypeScript, the Python reference
 * (training/twinlens_train/noise.py) and machines.
 */

/** mulberry32: a tiny, well-mixed 32-bit generator; returns the next uint32 of the stream seeded by `seed`. */
export function mulberry32(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  };
}

/** A uniform draw in the open interval (0, 1) from a uint32 source: (next() + 0.5) / 2^32. */
export function uniform01(next: () => number): number {
  return (next() + 0.5) / 4294967296;
}
