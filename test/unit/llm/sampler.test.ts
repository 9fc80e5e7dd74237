/**
 * Sampler: the mulberry32 stream (checked against an independent BigInt
 * implementation of the same recurrence), greedy choice, softmax with
 * temperature, the nucleus (checked against a full sort), sampling
 * frequencies, and reproducibility from the seed.
 */
import { describe, expect, it } from 'vitest';
import { TokenSampler, argmax, mulberry32, nucleus, softmaxInto, uniform01 } from '../../../src/engine/llm/sampler.js';

const M32 = 2n ** 32n;

/** mulberry32 in BigInt arithmetic modulo 2^32, written from the recurrence, not from the implementation. */
function referenceMulberry32(seed: number): () => number {
  let state = BigInt(seed >>> 0);
  return () => {
    state = (state + 0x6d2b79f5n) % M32;
    let t = state;
    t = ((t ^ (t >> 15n)) * (t | 1n)) % M32;
    t = t ^ ((t + (((t ^ (t >> 7n)) * (t | 61n)) % M32)) % M32);
    return Number((t ^ (t >> 14n)) % M32);
  };
}

function softmax(logits: number[], temperature: number): number[] {
  const m = Math.max(...logits);
  const e = logits.map((l) => Math.exp((l - m) / temperature));
  const s = e.reduce((a, b) => a + b, 0);
  return e.map((x) => x / s);
}

describe('mulberry32', () => {
  it('matches an independent implementation for several seeds', () => {
    for (const seed of [0, 1, 42, 0x7fffffff, 0xffffffff, 123456789]) {
      const a = mulberry32(seed);
      const b = referenceMulberry32(seed);
      for (let i = 0; i < 200; i++) expect(a()).toBe(b());
    }
  });

  it('gives uint32 values and uniform draws strictly inside (0, 1) with mean ≈ 0.5', () => {
    const next = mulberry32(7);
    let sum = 0;
    for (let i = 0; i < 20000; i++) {
      const u = uniform01(next);
      expect(u).toBeGreaterThan(0);
      expect(u).toBeLessThan(1);
      sum += u;
    }
    expect(sum / 20000).toBeCloseTo(0.5, 1);
    const x = mulberry32(3)();
    expect(Number.isInteger(x) && x >= 0 && x < 2 ** 32).toBe(true);
    expect(uniform01(() => 0)).toBe(0.5 / 2 ** 32);
    expect(uniform01(() => 0xffffffff)).toBeLessThan(1);
  });
});

describe('argmax and softmax', () => {
  it('picks the first of equal maxima, skips NaN, and reads a row at an offset', () => {
    expect(argmax(Float32Array.of(1, 3, 3, 2))).toBe(1);
    expect(argmax(Float32Array.of(NaN, -1, NaN))).toBe(1);
    expect(argmax(Float32Array.of(-Infinity, -Infinity))).toBe(0);
    expect(argmax(Float32Array.of(9, 9, 0, 5, 1), 2, 3)).toBe(1);
    expect(() => argmax(Float32Array.of(NaN, NaN))).toThrow(expect.objectContaining({ code: 'ONNX_RUN_FAILED' }));
  });

  it('computes softmax with temperature', () => {
    const logits = [1, 2, 0.5, -1];
    for (const T of [0.5, 1, 2]) {
      const out = new Float64Array(4);
      const maxP = softmaxInto(Float32Array.from(logits), 0, 4, T, out);
      const ref = softmax(logits, T);
      ref.forEach((p, i) => expect(out[i]).toBeCloseTo(p, 12));
      expect(maxP).toBeCloseTo(Math.max(...ref), 12);
    }
  });
});

describe('nucleus', () => {
  function referenceNucleus(probs: number[], topP: number): number[] {
    const order = probs.map((_, i) => i).sort((a, b) => probs[b] - probs[a] || a - b);
    const out: number[] = [];
    let mass = 0;
    for (const i of order) {
      out.push(i);
      mass += probs[i];
      if (mass >= topP) break;
    }
    return out;
  }

  it('equals the full-sort definition on random and peaked distributions', () => {
    const next = mulberry32(99);
    for (let trial = 0; trial < 60; trial++) {
      const n = 5 + (next() % 300);
      const spread = [0.5, 3, 12][trial % 3];
      const logits = Array.from({ length: n }, () => (uniform01(next) * 2 - 1) * spread);
      const probs = Float64Array.from(softmax(logits, 1));
      const maxP = Math.max(...probs);
      for (const topP of [0.05, 0.3, 0.8, 0.95, 0.999999, 1]) {
        expect(nucleus(probs, n, topP, maxP)).toEqual(referenceNucleus([...probs], topP));
      }
    }
  });

  it('orders ties by ascending id', () => {
    const probs = Float64Array.of(0.25, 0.25, 0.25, 0.25);
    expect(nucleus(probs, 4, 0.5, 0.25)).toEqual([0, 1]);
  });
});

describe('TokenSampler', () => {
  const logits = Float32Array.of(2, 1, 0.5, 0, -1, -3);

  it('is greedy at temperature 0, whatever the seed', () => {
    for (const seed of [0, 1, 2]) expect(new TokenSampler({ temperature: 0, topP: 0.5, seed }).pick(logits)).toBe(0);
    expect(new TokenSampler({ temperature: 0, topP: 1, seed: 0 }).greedy).toBe(true);
  });

  it('samples with the softmax(logits / T) frequencies', () => {
    for (const T of [0.7, 1.5]) {
      const s = new TokenSampler({ temperature: T, topP: 1, seed: 5 });
      const counts = new Array<number>(logits.length).fill(0);
      const N = 30000;
      for (let i = 0; i < N; i++) counts[s.pick(logits)]++;
      softmax([...logits], T).forEach((p, i) => expect(Math.abs(counts[i] / N - p)).toBeLessThan(0.012));
    }
  });

  it('samples only inside the nucleus, renormalised', () => {
    const T = 1;
    const probs = softmax([...logits], T); // ≈ 0.56, 0.21, 0.12, 0.08, 0.03, 0.004
    const s = new TokenSampler({ temperature: T, topP: 0.8, seed: 9 });
    const counts = new Array<number>(logits.length).fill(0);
    const N = 30000;
    for (let i = 0; i < N; i++) counts[s.pick(logits)]++;
    const kept = probs[0] + probs[1] + probs[2];
    expect(counts.slice(3).every((c) => c === 0)).toBe(true);
    [0, 1, 2].forEach((i) => expect(Math.abs(counts[i] / N - probs[i] / kept)).toBeLessThan(0.012));
    const tiny = new TokenSampler({ temperature: 2, topP: 1e-6, seed: 1 });
    for (let i = 0; i < 50; i++) expect(tiny.pick(logits)).toBe(0);
  });

  it('reproduces a sequence from the seed and differs across seeds', () => {
    const draw = (seed: number) => {
      const s = new TokenSampler({ temperature: 1.2, topP: 0.95, seed });
      return Array.from({ length: 40 }, () => s.pick(logits));
    };
    expect(draw(17)).toEqual(draw(17));
    expect(draw(17)).not.toEqual(draw(18));
  });

  it('reads one row at an offset of a logits block', () => {
    const block = Float32Array.of(9, 0, 0, 0, 0, 5);
    expect(new TokenSampler({ temperature: 0, topP: 1, seed: 0 }).pick(block, 3, 3)).toBe(2);
    const s = new TokenSampler({ temperature: 0.5, topP: 0.9, seed: 0 });
    for (let i = 0; i < 20; i++) expect(s.pick(block, 3, 3)).toBe(2);
  });

  it('refuses invalid settings', () => {
    for (const bad of [
      { temperature: -1, topP: 1, seed: 0 },
      { temperature: NaN, topP: 1, seed: 0 },
      { temperature: 1, topP: 0, seed: 0 },
      { temperature: 1, topP: 1.5, seed: 0 },
      { temperature: 1, topP: 1, seed: -1 },
      { temperature: 1, topP: 1, seed: 2 ** 32 },
      { temperature: 1, topP: 1, seed: 0.5 },
    ]) {
      expect(() => new TokenSampler(bad)).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
    }
  });
});
