/**
 * `leakage`: the prompt-leakage probe, its parameters and its report.
 */
import { z } from 'zod';
import { DiffusionSettings, GenerationSettings } from './common.js';
import type { AnswerOption, EvalScore } from './eval.js';

/**
 * The prompt-leakage probe inside the engine process (the Eval view's
 * "Leakage probe"): runLeakage + leakageReport of src/engine/eval with the
 * engine's own ask, as `twinlens leakage`. Streams 'progress' and
 * 'eval-progress' events (running: {}); a cancel stops after the current
 * ask and returns the report over the items finished (complete: false).
 */
export const LeakageParams = z.object({
  /** A built-in suite name of the open pack or a path on the engine's machine. */
  suite: z.string().min(1).max(4000),
  /** Modes to probe; default: every available mode that reads diffusion features, extras included. */
  modes: z.array(z.string().min(1)).min(1).optional(),
  /** Guidance scales s to probe. */
  guidance: z.array(z.number().min(-20).max(50)).min(1).max(16).default([1, 1.5, 4]),
  /** qa: ask the item's question, prompts = questions; caption: ask for a caption, prompts = captions. */
  task: z.enum(['qa', 'caption']).default('qa'),
  diffusion: DiffusionSettings.optional(),
  generation: GenerationSettings.optional(),
  /** Only the first N items (at least two: the mismatched prompt comes from another item). */
  limit: z.number().int().min(2).optional(),
  /** MMVP suites: the image folder (default beside the CSV). */
  imagesDir: z.string().min(1).optional(),
});
export type LeakageParams = z.input<typeof LeakageParams>;
export type LeakageParamsParsed = z.infer<typeof LeakageParams>;

/** The probe's task: qa asks the item's question with questions as prompts; caption asks for a caption with captions as prompts. */
export type LeakageTask = 'qa' | 'caption';
/** qa task: the item field the mismatched SD prompt comes from. */
export type MismatchSource = 'question' | 'answer';

/** Scores of one condition of the leakage probe against the item's reference. */
export interface LeakageConditionScore {
  accuracy: EvalScore;
  f1: number;
  cider: number;
}

/** One mode at one guidance s (computed in src/engine/eval/leakage-report.ts). */
export interface LeakageCell {
  matched: LeakageConditionScore;
  empty: LeakageConditionScore;
  mismatched: LeakageConditionScore;
  /** matched − empty. */
  gap: { accuracy: number; f1: number; cider: number };
  /** The mismatched output against the mismatched prompt; control = the empty-prompt output against it; excess = leakage − control. */
  leakage: { cider: number; f1: number; controlCider: number; controlF1: number; excessCider: number; excessF1: number };
  towardPartnerAnswer: { cider: number; f1: number; rate: number };
  errors: number;
}

/** One probed item: its prompts and every mode's outputs under the three conditions. */
export interface LeakageItem {
  id: string;
  /** The LLM question asked in all three conditions. */
  question: string;
  /** The reference the outputs are scored against. */
  answer: string;
  options?: AnswerOption[];
  /** The matched SD prompt, (a). */
  prompt: string;
  /** The partner item and the SD prompt taken from it, (c). */
  partner: string;
  mismatchedPrompt: string;
  /** The partner's reference (its answer, or its caption in the caption task). */
  partnerAnswer: string;
  outputs: Record<string, { matched: Record<string, string>; empty: string; mismatched: Record<string, string>; errors?: string[] }>;
}

/** The `twinlens leakage --json` document. */
export interface LeakageReport {
  format: 'twinlens-leakage';
  version: 1;
  suite: { name: string; hash: string; items: number };
  pack: { name: string; hash: string };
  modes: string[];
  guidance: number[];
  task: LeakageTask;
  /** qa task: the field the prompts come from. */
  mismatchFrom?: MismatchSource;
  /** caption task: the LLM question. */
  captionQuestion?: string;
  /** Items probed (all three conditions done). */
  evaluated: number;
  complete: boolean;
  metric: string;
  rows: Array<{ guidance: number; modes: Record<string, LeakageCell> }>;
  items?: LeakageItem[];
}
