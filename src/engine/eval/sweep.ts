/**
 * Sweeps: the same suite over several values of one diffusion setting in one
 * run — t ∈ {10, 50, 100, 250, 500}, guidance s, taps, noise seeds, ensemble
 * size or the prompt source — the study's Table 1 shape (rows = setting,
 * columns = modes). This file parses `--sweep key=v1,v2,…`, turns a value
 * into the AskParams diffusion overrides, and knows which modes a sweep
 * cannot change (modes that read no diffusion features), so their answers are
 * computed once and reused across rows.
 */
import type { DiffusionSettings } from '../../shared/contract.js';
import { TwinLensError } from '../../shared/errors.js';
import type { SweepKey, SweepSpec } from '../../shared/contract.js';

const ALIASES: Record<string, SweepKey> = {
  t: 't',
  timestep: 't',
  s: 'guidance',
  guidance: 'guidance',
  tap: 'tap',
  taps: 'tap',
  layer: 'tap',
  seed: 'seed',
  ensemble: 'ensemble',
  prompt: 'prompt',
};

function parseValue(key: SweepKey, raw: string): string | number {
  const v = raw.trim();
  if (!v) throw new TwinLensError('INVALID_ARGUMENT', `--sweep ${key}: empty value`);
  switch (key) {
    case 't': {
      const n = Number(v);
      if (!Number.isInteger(n) || n < 0 || n > 999) throw new TwinLensError('INVALID_ARGUMENT', `--sweep t: "${v}" is not a timestep 0…999`);
      return n;
    }
    case 'seed': {
      const n = Number(v);
      if (!Number.isInteger(n) || n < 0 || n > 2 ** 32 - 1) throw new TwinLensError('INVALID_ARGUMENT', `--sweep seed: "${v}" is not a seed 0…2³²−1`);
      return n;
    }
    case 'ensemble': {
      const n = Number(v);
      if (!Number.isInteger(n) || n < 1 || n > 16) throw new TwinLensError('INVALID_ARGUMENT', `--sweep ensemble: "${v}" is not 1…16`);
      return n;
    }
    case 'guidance': {
      const n = Number(v);
      if (!Number.isFinite(n) || n < -20 || n > 50) throw new TwinLensError('INVALID_ARGUMENT', `--sweep guidance: "${v}" is not a number −20…50`);
      return n;
    }
    case 'prompt':
      if (v !== 'question' && v !== 'empty') throw new TwinLensError('INVALID_ARGUMENT', `--sweep prompt: "${v}" must be question or empty`);
      return v;
    case 'tap':
      return v;
  }
}

/**
 * Parses "t=10,50,100", "guidance=0,1,4" (or "s=…"), "tap=A,B", "seed=0,1",
 * "ensemble=1,4", "prompt=question,empty". Values keep their order;
 * duplicates are an error.
 */
export function parseSweep(spec: string): SweepSpec {
  const m = /^\s*([a-z]+)\s*=\s*(.+)$/i.exec(spec);
  if (!m)
    throw new TwinLensError(
      'INVALID_ARGUMENT',
      `--sweep "${spec}" is not key=v1,v2,…`,
      'e.g. --sweep t=10,50,100,250,500 or --sweep guidance=0,1,4 or --sweep tap=U-L1-R1-B0-Cross-Q,U-L2-R2-Res-Out',
    );
  const key = ALIASES[m[1].toLowerCase()];
  if (!key) throw new TwinLensError('INVALID_ARGUMENT', `--sweep: unknown setting "${m[1]}"`, `Sweepable: ${[...new Set(Object.values(ALIASES))].join(', ')}`);
  const values = m[2].split(',').map((v) => parseValue(key, v));
  const seen = new Set<string>();
  for (const v of values) {
    if (seen.has(String(v))) throw new TwinLensError('INVALID_ARGUMENT', `--sweep ${key}: "${v}" is listed twice`);
    seen.add(String(v));
  }
  return { key, values };
}

/** The AskParams diffusion overrides for one sweep value, on top of the run's base overrides. */
export function applySweep(base: DiffusionSettings, key: SweepKey, value: string | number): DiffusionSettings {
  switch (key) {
    case 't':
      return { ...base, t: Number(value) };
    case 'guidance':
      return { ...base, guidance: Number(value) };
    case 'tap':
      return { ...base, tap: String(value) };
    case 'seed':
      return { ...base, seed: Number(value) };
    case 'ensemble':
      return { ...base, ensemble: Number(value) };
    case 'prompt': {
      const { customPrompt: _drop, ...rest } = base;
      return { ...rest, promptSource: value as 'question' | 'empty' };
    }
  }
}

/** The setting a sweep varies must not also be fixed by a flag (e.g. --t with --sweep t=…). */
export function checkSweepConflict(base: DiffusionSettings, sweep: SweepSpec | undefined): void {
  if (!sweep) return;
  const field = sweep.key === 'prompt' ? 'promptSource' : sweep.key;
  if ((base as Record<string, unknown>)[field] !== undefined) {
    throw new TwinLensError(
      'INVALID_ARGUMENT',
      `--sweep ${sweep.key} conflicts with a fixed --${sweep.key === 'prompt' ? 'prompt' : sweep.key}`,
      'Drop one of the two',
    );
  }
}

/**
 * Modes whose answers cannot depend on a diffusion sweep: those that read no
 * diffusion features. `inputs` maps mode id → its inputs (PackInfo.modes);
 * unknown modes are assumed to depend on it.
 */
export function sweepIndependentModes(modes: readonly string[], inputs: Readonly<Record<string, readonly string[]>> | undefined): Set<string> {
  const out = new Set<string>();
  if (!inputs) return out;
  for (const m of modes) if (inputs[m] && !inputs[m].includes('diffusion')) out.add(m);
  return out;
}
