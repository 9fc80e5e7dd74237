/**
 * The forward-noising schedule, read from a diffusers scheduler_config.json.
 * Feature extraction needs only alphas_cumprod: x_t = √ā_t·x₀ + √(1−ā_t)·ε.
 * Computed in float64 (diffusers uses float32; the difference is < 1e-6).
 */
import { TwinLensError } from '../../shared/errors.js';

export interface SchedulerConfig {
  beta_start?: number;
  beta_end?: number;
  beta_schedule?: string;
  num_train_timesteps?: number;
  trained_betas?: number[] | null;
  _class_name?: string;
}

export class NoiseSchedule {
  readonly alphasCumprod: Float64Array;

  constructor(readonly config: SchedulerConfig) {
    const n = config.num_train_timesteps ?? 1000;
    const start = config.beta_start ?? 0.00085;
    const end = config.beta_end ?? 0.012;
    const kind = config.beta_schedule ?? 'scaled_linear';
    const betas = new Float64Array(n);
    if (config.trained_betas && config.trained_betas.length) {
      if (config.trained_betas.length !== n) {
        throw new TwinLensError('PACK_MANIFEST_INVALID', `scheduler: trained_betas has ${config.trained_betas.length} values, expected ${n}`);
      }
      betas.set(config.trained_betas);
    } else if (kind === 'scaled_linear') {
      const a = Math.sqrt(start);
      const b = Math.sqrt(end);
      for (let i = 0; i < n; i++) betas[i] = (a + ((b - a) * i) / Math.max(1, n - 1)) ** 2;
    } else if (kind === 'linear') {
      for (let i = 0; i < n; i++) betas[i] = start + ((end - start) * i) / Math.max(1, n - 1);
    } else if (kind === 'squaredcos_cap_v2') {
      const f = (t: number) => Math.cos(((t + 0.008) / 1.008) * (Math.PI / 2)) ** 2;
      for (let i = 0; i < n; i++) betas[i] = Math.min(1 - f((i + 1) / n) / f(i / n), 0.999);
    } else {
      throw new TwinLensError(
        'PACK_MANIFEST_INVALID',
        `scheduler: beta_schedule "${kind}" is not supported`,
        'Use scaled_linear, linear or squaredcos_cap_v2 in scheduler_config.json',
      );
    }
    this.alphasCumprod = new Float64Array(n);
    let acc = 1;
    for (let i = 0; i < n; i++) {
      acc *= 1 - betas[i];
      this.alphasCumprod[i] = acc;
    }
  }

  get numTimesteps(): number {
    return this.alphasCumprod.length;
  }

  alphaBar(t: number): number {
    if (!Number.isInteger(t) || t < 0 || t >= this.numTimesteps) {
      throw new TwinLensError(
        'INVALID_ARGUMENT',
        `timestep t=${t} is outside 0…${this.numTimesteps - 1}`,
        'The study uses t in {10, 50, 100, 250, 500}; 50 is the default',
      );
    }
    return this.alphasCumprod[t];
  }

  /** x_t = √ā·x₀ + √(1−ā)·ε, elementwise, in float64 then float32. */
  addNoise(x0: Float32Array, eps: Float64Array | Float32Array, t: number): Float32Array {
    if (x0.length !== eps.length) throw new TwinLensError('INTERNAL', `noise length ${eps.length} ≠ latent length ${x0.length}`);
    const a = this.alphaBar(t);
    const sa = Math.sqrt(a);
    const sb = Math.sqrt(1 - a);
    const out = new Float32Array(x0.length);
    for (let i = 0; i < x0.length; i++) out[i] = sa * x0[i] + sb * eps[i];
    return out;
  }
}
