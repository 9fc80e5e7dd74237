/** Knobs → contract settings: only what the user set is sent (the engine fills the pack's defaults). */
import { describe, expect, it } from 'vitest';
import { EMPTY_KNOBS, effectiveKnobs, toDiffusionSettings, toGenerationSettings } from '../../../src/renderer/state/settings.js';

describe('knobs', () => {
  it('sends nothing the user did not set', () => {
    expect(toDiffusionSettings(EMPTY_KNOBS)).toEqual({});
    expect(toGenerationSettings(EMPTY_KNOBS)).toEqual({});
  });
  it('sends ensemble with the diffusion settings and temperature / top-p with the generation settings', () => {
    const k = { ...EMPTY_KNOBS, ensemble: 4, temperature: 0.7, topP: 0.9, maxTokens: 16 };
    expect(toDiffusionSettings(k)).toEqual({ ensemble: 4 });
    expect(toGenerationSettings(k)).toEqual({ maxTokens: 16, temperature: 0.7, topP: 0.9 });
  });
  it('shows the pack default ensemble and greedy decoding when unset, also for knobs saved by an older version', () => {
    const old = { t: null, guidance: null, tap: null, promptSource: null, customPrompt: '', seed: null, maxTokens: null };
    const e = effectiveKnobs(old, { t: 50, guidance: 4, tap: 'U-L1-R1-B0-Cross-Q', promptSource: 'question', seed: 0, ensemble: 2 } as never);
    expect(e).toMatchObject({ ensemble: 2, temperature: 0, topP: 1 });
    expect(toGenerationSettings(old)).toEqual({});
  });
});
