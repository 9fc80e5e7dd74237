/**
 * Next-token choice: greedy (temperature 0) or seeded sampling with
 * temperature and top-p (nucleus).
 *
 * Why it is written out here instead of borrowed: answers must be exactly
 * reproducible from the settings the UI records (temperature, top-p, seed), on
 * every platform and in every process, so comparisons between answer modes
 * are fair. That needs a fixed PRNG (mulberry32, the project's generator, also
 * used for diffusion noise), a fixed tie order (equal probabilities keep
 * ascending token id) and one uniform draw per sampled token.
 *
 * Top-p is exact but avoids sorting the whole vocabulary (150k entries for
 * real LLMs) every token: the nucleus is a prefix of the tokens sorted by
 * probability, so any threshold whose super-level set already holds ≥ top-p of
 * the mass contains it. We lower the threshold from the maximum probability
 * (÷8 per pass) until that holds and sort only that set.
 */
import { TwinLensError } from '../../shared/errors.js';
import { mulberry32, uniform01 } from '../util/prng.js';

export { mulberry32, uniform01 };

export interface SamplingSettings {
  /** 0 = greedy. */
  temperature: number;
  /** Nucleus mass in (0, 1]; 1 = no truncation. */
  topP: number;
  /** uint32 seed of the PRNG. */
  seed: number;
}

/** Temperatures at or below this are treated as greedy (avoids 1/T overflow). */
export const GREEDY_TEMPERATURE = 1e-5;

/**
 * Index of the largest finite value in logits[offset, offset+length); ties go
 * to the lowest index. Throws when no value is finite (a broken model run).
 */
export function argmax(logits: Float32Array, offset = 0, length = logits.length - offset): number {
  let best = -1;
  let bestValue = -Infinity;
  for (let i = 0; i < length; i++) {
    const v = logits[offset + i];
    if (v > bestValue || (best < 0 && v === -Infinity)) {
      best = i;
      bestValue = v;
    }
  }
  if (best < 0)
    throw new TwinLensError(
      'ONNX_RUN_FAILED',
      'The decoder returned logits that are all NaN',
      'The model or its inputs are broken (check the projector and dtype)',
    );
  return best;
}

/**
 * softmax(logits / temperature) over one row, written into `out`. NaN logits
 * get probability 0. Returns the maximum probability.
 */
export function softmaxInto(logits: Float32Array, offset: number, length: number, temperature: number, out: Float64Array): number {
  let max = -Infinity;
  for (let i = 0; i < length; i++) {
    const v = logits[offset + i];
    if (v > max) max = v;
  }
  if (max === -Infinity) throw new TwinLensError('ONNX_RUN_FAILED', 'The decoder returned no finite logits', 'The model or its inputs are broken');
  let sum = 0;
  for (let i = 0; i < length; i++) {
    const v = logits[offset + i];
    const e = v === v ? Math.exp((v - max) / temperature) : 0;
    out[i] = e;
    sum += e;
  }
  let maxP = 0;
  for (let i = 0; i < length; i++) {
    out[i] /= sum;
    if (out[i] > maxP) maxP = out[i];
  }
  return maxP;
}

/**
 * Token ids of the nucleus: the most probable tokens, in descending
 * probability (ties by ascending id), until their mass reaches topP.
 */
export function nucleus(probs: Float64Array, length: number, topP: number, maxP: number): number[] {
  let threshold = maxP;
  let candidates: number[];
  for (;;) {
    candidates = [];
    let mass = 0;
    for (let i = 0; i < length; i++) {
      if (probs[i] >= threshold) {
        candidates.push(i);
        mass += probs[i];
      }
    }
    if (mass >= topP || threshold === 0) break;
    threshold = threshold < 1e-300 ? 0 : threshold / 8;
  }
  candidates.sort((a, b) => probs[b] - probs[a] || a - b);
  const kept: number[] = [];
  let mass = 0;
  for (const id of candidates) {
    kept.push(id);
    mass += probs[id];
    if (mass >= topP) break;
  }
  return kept;
}

/** Picks next tokens from logits rows; holds the PRNG so a sequence of picks is reproducible from the seed. */
export class TokenSampler {
  readonly greedy: boolean;
  private readonly next: () => number;
  private probs = new Float64Array(0);

  constructor(readonly settings: SamplingSettings) {
    const { temperature, topP, seed } = settings;
    if (!(temperature >= 0) || !Number.isFinite(temperature)) throw new TwinLensError('INVALID_ARGUMENT', `temperature must be ≥ 0, got ${temperature}`);
    if (!(topP > 0 && topP <= 1)) throw new TwinLensError('INVALID_ARGUMENT', `topP must be in (0, 1], got ${topP}`);
    if (!Number.isInteger(seed) || seed < 0 || seed > 0xffffffff) throw new TwinLensError('INVALID_ARGUMENT', `sampleSeed must be a uint32, got ${seed}`);
    this.greedy = temperature <= GREEDY_TEMPERATURE;
    this.next = mulberry32(seed);
  }

  /** Chooses a token id from the row logits[offset, offset+length). */
  pick(logits: Float32Array, offset = 0, length = logits.length - offset): number {
    if (length <= 0) throw new TwinLensError('ONNX_IO_MISMATCH', 'The decoder returned an empty logits row');
    if (this.greedy) return argmax(logits, offset, length);
    if (this.probs.length < length) this.probs = new Float64Array(length);
    const probs = this.probs;
    const maxP = softmaxInto(logits, offset, length, this.settings.temperature, probs);
    const u = uniform01(this.next);
    if (this.settings.topP >= 1) {
      // Whole distribution, scanned in id order.
      let acc = 0;
      let last = 0;
      for (let i = 0; i < length; i++) {
        if (probs[i] <= 0) continue;
        acc += probs[i];
        last = i;
        if (u < acc) return i;
      }
      return last;
    }
    const kept = nucleus(probs, length, this.settings.topP, maxP);
    let total = 0;
    for (const id of kept) total += probs[id];
    const target = u * total;
    let acc = 0;
    for (const id of kept) {
      acc += probs[id];
      if (target < acc) return id;
    }
    return kept[kept.length - 1];
  }
}
