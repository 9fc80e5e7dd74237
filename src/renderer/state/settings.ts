/**
 * The study's knobs and the app's preferences, persisted across restarts.
 *
 * Diffusion knobs are `null` until the user touches them, meaning "the open
 * pack's default" (PackInfo.defaults): switching packs then picks up the new
 * pack's defaults instead of carrying stale numbers over.
 */
import { useCallback, useEffect, useState } from 'react';
import type { DiffusionSettings, GenerationSettings, ResolvedDiffusionSettings } from '../../shared/contract.js';
import { isRecord, loadJson, saveJson } from '../lib/persist.js';

export type PromptSourceName = 'question' | 'empty' | 'custom';
export type ThemeName = 'light' | 'dark';

export interface Knobs {
  t: number | null;
  guidance: number | null;
  tap: string | null;
  promptSource: PromptSourceName | null;
  customPrompt: string;
  seed: number | null;
  maxTokens: number | null;
  /** Noise draws averaged per diffusion feature (the pack's default when null). */
  ensemble?: number | null;
  /** Sampling: 0 / null = greedy (the engine's default), top-p nucleus threshold. */
  temperature?: number | null;
  topP?: number | null;
}

export interface Preferences {
  knobs: Knobs;
  /** Re-run the diffusion-based columns when a diffusion knob changes. */
  autoRerun: boolean;
  /** Show the pack's extra modes (e.g. concat fusion) as columns too. */
  showExtraModes: boolean;
  /** Fetch cross-attention maps after each question. */
  showAttention: boolean;
  theme: ThemeName;
}

export const EMPTY_KNOBS: Knobs = {
  t: null,
  guidance: null,
  tap: null,
  promptSource: null,
  customPrompt: '',
  seed: null,
  maxTokens: null,
  ensemble: null,
  temperature: null,
  topP: null,
};

/** Values shown when neither the user nor the pack says otherwise: the study's defaults. */
export const STUDY_DEFAULTS = { t: 50, guidance: 4, tap: 'U-L1-R1-B0-Cross-Q', promptSource: 'question' as PromptSourceName, seed: 0 };

function systemTheme(): ThemeName {
  return typeof matchMedia === 'function' && matchMedia('(prefers-color-scheme: dark)').matches ? 'dark' : 'light';
}

function defaults(): Preferences {
  return { knobs: { ...EMPTY_KNOBS }, autoRerun: true, showExtraModes: false, showAttention: true, theme: systemTheme() };
}

function load(): Preferences {
  const d = defaults();
  const raw = loadJson<unknown>('preferences.v1', undefined);
  if (!isRecord(raw)) return d;
  const knobs = isRecord(raw.knobs) ? { ...d.knobs, ...(raw.knobs as Partial<Knobs>) } : d.knobs;
  return {
    knobs,
    autoRerun: typeof raw.autoRerun === 'boolean' ? raw.autoRerun : d.autoRerun,
    showExtraModes: typeof raw.showExtraModes === 'boolean' ? raw.showExtraModes : d.showExtraModes,
    showAttention: typeof raw.showAttention === 'boolean' ? raw.showAttention : d.showAttention,
    theme: raw.theme === 'light' || raw.theme === 'dark' ? raw.theme : d.theme,
  };
}

export function usePreferences(): [Preferences, (patch: Partial<Preferences>) => void, (patch: Partial<Knobs>) => void] {
  const [prefs, setPrefs] = useState<Preferences>(load);
  useEffect(() => {
    saveJson('preferences.v1', prefs);
  }, [prefs]);
  const update = useCallback((patch: Partial<Preferences>) => setPrefs((p) => ({ ...p, ...patch })), []);
  const updateKnobs = useCallback((patch: Partial<Knobs>) => setPrefs((p) => ({ ...p, knobs: { ...p.knobs, ...patch } })), []);
  return [prefs, update, updateKnobs];
}

/** Knobs with the pack's (or the study's) defaults filled in: what the UI shows. */
export interface EffectiveKnobs {
  t: number;
  guidance: number;
  tap: string;
  promptSource: PromptSourceName;
  customPrompt: string;
  seed: number;
  maxTokens: number | null;
  ensemble: number;
  temperature: number;
  topP: number;
}

export function effectiveKnobs(k: Knobs, packDefaults: ResolvedDiffusionSettings | undefined): EffectiveKnobs {
  return {
    t: k.t ?? packDefaults?.t ?? STUDY_DEFAULTS.t,
    guidance: k.guidance ?? packDefaults?.guidance ?? STUDY_DEFAULTS.guidance,
    tap: k.tap ?? packDefaults?.tap ?? STUDY_DEFAULTS.tap,
    promptSource: k.promptSource ?? packDefaults?.promptSource ?? STUDY_DEFAULTS.promptSource,
    customPrompt: k.customPrompt,
    seed: k.seed ?? packDefaults?.seed ?? STUDY_DEFAULTS.seed,
    maxTokens: k.maxTokens,
    ensemble: k.ensemble ?? packDefaults?.ensemble ?? 1,
    temperature: k.temperature ?? 0,
    topP: k.topP ?? 1,
  };
}

/** The contract's DiffusionSettings: only what the user set, so the engine applies the pack's defaults for the rest. */
export function toDiffusionSettings(k: Knobs): DiffusionSettings {
  const s: DiffusionSettings = {};
  if (k.t !== null) s.t = k.t;
  if (k.guidance !== null) s.guidance = k.guidance;
  if (k.tap !== null) s.tap = k.tap;
  if (k.promptSource !== null) s.promptSource = k.promptSource;
  if (k.promptSource === 'custom') s.customPrompt = k.customPrompt;
  if (k.seed !== null) s.seed = k.seed;
  if (k.ensemble != null) s.ensemble = k.ensemble;
  return s;
}

export function toGenerationSettings(k: Knobs): GenerationSettings {
  const g: GenerationSettings = {};
  if (k.maxTokens !== null) g.maxTokens = k.maxTokens;
  if (k.temperature != null) g.temperature = k.temperature;
  if (k.topP != null) g.topP = k.topP;
  return g;
}

/** The SD prompt the diffusion encoder sees for a question under these knobs (for the attention strip). */
export function diffusionPrompt(question: string, k: EffectiveKnobs): string {
  if (k.promptSource === 'empty') return '';
  if (k.promptSource === 'custom') return k.customPrompt;
  return question;
}

/** A stable key of the knobs that change diffusion features: re-run triggers when it changes. */
export function diffusionKey(k: Knobs): string {
  return JSON.stringify(toDiffusionSettings(k));
}
