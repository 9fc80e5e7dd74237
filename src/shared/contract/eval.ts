/**
 * `evaluate` and `listSuites`: benchmark runs inside the engine process. The result
 * types here are the ones the engine's eval code produces (src/engine/eval imports them).
 */
import { z } from 'zod';
import { DiffusionSettings, GenerationSettings, type StopReason } from './common.js';

/**
 * Run a benchmark suite over answer modes inside the engine process (the
 * Eval view): the runner of src/engine/eval with the engine's own ask.
 * Streams 'progress' and 'eval-progress' events; a cancel stops after the
 * current item and still returns the partial summary (complete: false).
 */
export const EvaluateParams = z.object({
  /** A built-in suite name of the open pack (<pack>/suites/NAME.jsonl|csv) or a path on the engine's machine. */
  suite: z.string().min(1).max(4000),
  modes: z.union([z.literal('all'), z.array(z.string().min(1)).min(1)]).default('all'),
  diffusion: DiffusionSettings.default({}),
  generation: GenerationSettings.default({}),
  /** One setting over several values, as the CLI's --sweep: "t=10,50,250", "guidance=0,1,4", "tap=A,B". */
  sweep: z.string().min(3).max(2000).optional(),
  /** Only the first N items. */
  limit: z.number().int().min(1).optional(),
  /** MMVP suites: the image folder (default beside the CSV). */
  imagesDir: z.string().min(1).optional(),
  /** Thumbnails (PNG bytes) of the images of items where the modes disagree, at most this many. */
  thumbnails: z.number().int().min(0).max(200).default(48),
  /**
   * Every run is journalled in the user's cache, keyed by what it evaluates (suite, pack, modes,
   * settings, limit). resume: true continues the journal of the same evaluation after its last
   * finished item (after Stop, a crash or a restart); false starts it over.
   */
  resume: z.boolean().default(false),
});
export type EvaluateParams = z.input<typeof EvaluateParams>;
export type EvaluateParamsParsed = z.infer<typeof EvaluateParams>;

/** Accuracy of k right out of n with its 95 % Wilson interval (computed in src/engine/eval/stats.ts). */
export interface EvalScore {
  n: number;
  correct: number;
  /** correct / n (0 when n = 0). */
  accuracy: number;
  /** 95 % Wilson score interval of the accuracy. */
  ci95: [number, number];
}

export interface EvalModeScore extends EvalScore {
  /** Items whose answer was an engine error (counted as wrong). */
  errors: number;
  /** Complete pairs only (every item of the pair evaluated); absent when the suite has no pairs. */
  pairs?: EvalScore;
  categories: Record<string, EvalScore>;
  /** Breakdowns by item tags asked for (`--by target`): field → value → score. */
  by?: Record<string, Record<string, EvalScore>>;
}

export interface EvalModeTiming {
  meanMs: number;
  meanTokens: number;
}

export interface EvalSettingScore {
  /** "default", or the sweep label such as "t=50". */
  setting: string;
  modes: Record<string, EvalModeScore>;
  /** Per mode; excluded when comparing runs (wall clock differs). */
  timing: Record<string, EvalModeTiming>;
}

/** A multiple-choice option of a suite item. */
export interface AnswerOption {
  letter: string;
  text: string;
}

/** How an answer was matched against the reference (src/engine/eval/answer-match.ts). */
export type MatchRule = 'letter' | 'option-exact' | 'option-leading' | 'option-contains' | 'exact' | 'leading' | 'contains' | 'zero' | 'ambiguous' | 'none';

/** One mode's answer to one item, judged. */
export interface EvalItemAnswer {
  text: string;
  correct: boolean;
  rule: MatchRule;
  /** Multiple choice: the option index the answer was read as. */
  chosen?: number;
  ms: number;
  tokens: number;
  stop: StopReason;
  /** The engine's error message when the mode failed (counted as wrong). */
  error?: string;
  /** Copied from the first sweep setting: this mode does not read the swept setting. */
  reused?: boolean;
}

/** Diffusion settings the engine actually used (from AskResult.settings). */
export interface EvalUsedSettings {
  t: number;
  guidance: number;
  tap: string;
  promptSource: string;
  seed: number;
  ensemble: number;
}

/** One item × sweep setting of a run, judged (a results-file line without its `type`). */
export interface EvalItemResult {
  /** Sweep setting label ("t=50"), or "default" without a sweep. */
  setting: string;
  id: string;
  index: number;
  question: string;
  /** Reference answer. */
  answer: string;
  options?: AnswerOption[];
  pair?: string;
  category?: string;
  /** The suite item's extra scalar fields (`eval --by FIELD`). */
  tags?: Record<string, string>;
  /** Image path relative to the suite file. */
  image: string;
  imageHash: string;
  answers: Record<string, EvalItemAnswer>;
  used?: EvalUsedSettings;
}

/** The setting a sweep varies: "t=10,50,250", "guidance=0,1,4", "tap=A,B" (src/engine/eval/sweep.ts). */
export type SweepKey = 't' | 'guidance' | 'tap' | 'seed' | 'ensemble' | 'prompt';

export interface SweepSpec {
  key: SweepKey;
  values: Array<string | number>;
}

/** The `twinlens eval --json` document (made by src/engine/eval/summary.ts). */
export interface EvalSummary {
  format: 'twinlens-eval';
  version: 1;
  suite: { name: string; format: string; hash: string; items: number };
  pack: { name: string; hash: string };
  modes: string[];
  diffusion: DiffusionSettings;
  generation: GenerationSettings;
  sweep?: SweepSpec;
  /** Only the first `limit` items of the suite. */
  limit?: number;
  evaluated: number;
  complete: boolean;
  missing: number;
  shards?: number[];
  created?: string;
  results: EvalSettingScore[];
  items?: EvalItemResult[];
}

export interface EvaluateResult {
  summary: EvalSummary;
  /** False when stopped before every item × setting was run. */
  complete: boolean;
  /** Item × setting runs taken from an earlier, interrupted run of the same evaluation (its journal). */
  resumed: number;
  /** Item image path (as in items[].image) → PNG thumbnail, for items where the modes disagree. */
  thumbnails: Record<string, Uint8Array>;
  warnings: string[];
  ms: number;
}

export interface SuiteList {
  /** Built-in suites of the open pack (<pack>/suites/). */
  builtIn: Array<{ name: string; path: string }>;
  dir?: string;
}
