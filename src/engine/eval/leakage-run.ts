/**
 * The leakage probe's runs (DESIGN.md §1.5). A language model trained on
 * prompt-conditioned diffusion features can read the SD prompt back out of
 * them instead of looking at the image. For every item and every mode that
 * reads diffusion features, the same question is answered three ways, only
 * the SD prompt changing (AskParams.diffusion.promptSource/customPrompt):
 *
 *   (a) matched     promptSource 'question'  — the item's own question, per guidance s
 *   (b) empty       promptSource 'empty'     — unconditional features; f_c = f_u makes
 *                                              guidance irrelevant, so asked once per item
 *   (c) mismatched  promptSource 'custom'    — the prompt of another item, per guidance s
 *
 * The mismatched partner is a deterministic derangement: item i takes the
 * first item j, scanning i + ⌊N/2⌋, i + ⌊N/2⌋ + 1, … (mod N, j ≠ i), whose
 * prompt text differs from i's (canonical form) and whose image differs;
 * failing that, the first whose prompt text differs. The prompt is the
 * partner's question (default) or its reference answer (`mismatchFrom:
 * 'answer'`, for caption suites where the answer is a caption, as in the
 * study). Like the eval runner it runs in the host on an injected `ask`.
 */
import type { DiffusionSettings, GenerationSettings } from '../../shared/contract.js';
import { TwinLensError, toTwinLensError } from '../../shared/errors.js';
import { canonical } from './normalize.js';
import type { AskFn } from './runner.js';
import type { Suite, SuiteItem } from './suite.js';

export type MismatchSource = 'question' | 'answer';

export interface LeakageOptions {
  /** Modes to probe (those reading diffusion features). */
  modes: string[];
  /** Guidance scales s to probe. */
  guidance: number[];
  mismatchFrom?: MismatchSource;
  /** Other diffusion overrides (t, tap, seed, …); guidance and prompt are set by the probe. */
  diffusion?: DiffusionSettings;
  generation?: GenerationSettings;
  limit?: number;
  signal?: AbortSignal;
  onProgress?: (p: { done: number; total: number; elapsedMs: number; etaMs?: number; item?: string }) => void;
}

/** One item's outputs per mode: matched[s] and mismatched[s] keyed by String(s). */
export interface LeakageItem {
  id: string;
  question: string;
  answer: string;
  options?: SuiteItem['options'];
  /** The partner item and the SD prompt taken from it. */
  partner: string;
  mismatchedPrompt: string;
  /** The partner's reference answer. */
  partnerAnswer: string;
  outputs: Record<string, { matched: Record<string, string>; empty: string; mismatched: Record<string, string>; errors?: string[] }>;
}

export interface LeakageRun {
  items: LeakageItem[];
  complete: boolean;
}

function promptOf(item: SuiteItem, from: MismatchSource): string {
  return from === 'answer' ? item.answer : item.question;
}

/** Partner index of each item (see the file comment); throws when all prompts are equal. */
export function mismatchPartners(items: readonly SuiteItem[], from: MismatchSource = 'question'): number[] {
  const n = items.length;
  if (n < 2) throw new TwinLensError('INVALID_ARGUMENT', 'The leakage probe needs at least two items (a mismatched prompt comes from another item)');
  const text = items.map((it) => canonical(promptOf(it, from)));
  const offset = Math.floor(n / 2);
  return items.map((it, i) => {
    let fallback = -1;
    for (let k = 0; k < n; k++) {
      const j = (i + offset + k) % n;
      if (j === i || text[j] === text[i]) continue;
      if (items[j].image !== it.image) return j;
      if (fallback < 0) fallback = j;
    }
    if (fallback < 0) throw new TwinLensError('INVALID_ARGUMENT', `Every item's ${from} reads "${promptOf(it, from)}": no mismatched prompt for item "${it.id}"`, from === 'question' ? 'Use --mismatch-from answer, or a suite with varied questions' : undefined);
    return fallback;
  });
}

/** Runs the three conditions over the suite (first `limit` items); a stop returns what is done. */
export async function runLeakage(ask: AskFn, suite: Suite, o: LeakageOptions): Promise<LeakageRun> {
  if (!o.modes.length) throw new TwinLensError('MODE_UNAVAILABLE', 'No mode to probe: leakage needs a mode that reads diffusion features');
  if (!o.guidance.length) throw new TwinLensError('INVALID_ARGUMENT', 'The leakage probe needs at least one guidance scale');
  const from = o.mismatchFrom ?? 'question';
  const items = suite.items.slice(0, o.limit ?? suite.items.length);
  const partners = mismatchPartners(items, from);
  const total = items.length * (1 + 2 * o.guidance.length);
  const base: DiffusionSettings = { ...(o.diffusion ?? {}) };
  delete base.guidance;
  delete base.promptSource;
  delete base.customPrompt;
  const started = performance.now();
  let done = 0;
  const tick = (item: string) => {
    done++;
    const elapsedMs = performance.now() - started;
    o.onProgress?.({ done, total, elapsedMs, etaMs: (elapsedMs / done) * (total - done), item });
  };
  const out: LeakageItem[] = [];
  for (let i = 0; i < items.length; i++) {
    const item = items[i];
    const partner = items[partners[i]];
    const mismatchedPrompt = promptOf(partner, from);
    const rec: LeakageItem = {
      id: item.id,
      question: item.question,
      answer: item.answer,
      ...(item.options ? { options: item.options } : {}),
      partner: partner.id,
      mismatchedPrompt,
      partnerAnswer: partner.answer,
      outputs: Object.fromEntries(o.modes.map((m) => [m, { matched: {}, empty: '', mismatched: {} }])),
    };
    const once = async (diffusion: DiffusionSettings, put: (mode: string, text: string) => void): Promise<boolean> => {
      if (o.signal?.aborted) return false;
      try {
        const r = await ask({ image: { path: item.image }, question: item.question, modes: o.modes, diffusion, generation: o.generation ?? {} }, { signal: o.signal });
        if (o.signal?.aborted || Object.values(r.answers).some((a) => a.stop === 'cancelled')) return false;
        for (const m of o.modes) {
          const a = r.answers[m];
          put(m, a?.text ?? '');
          if (a?.error) (rec.outputs[m].errors ??= []).push(`${a.error.code}: ${a.error.message}`);
        }
      } catch (e) {
        const err = toTwinLensError(e);
        if (err.code === 'CANCELLED' || o.signal?.aborted) return false;
        if (err.code === 'ENGINE_DISPOSED') throw err;
        for (const m of o.modes) {
          put(m, '');
          (rec.outputs[m].errors ??= []).push(`${err.code}: ${err.message}`);
        }
      }
      tick(item.id);
      return true;
    };
    if (!(await once({ ...base, guidance: o.guidance[0], promptSource: 'empty' }, (m, t) => (rec.outputs[m].empty = t)))) return { items: out, complete: false };
    for (const s of o.guidance) {
      const key = String(s);
      if (!(await once({ ...base, guidance: s, promptSource: 'question' }, (m, t) => (rec.outputs[m].matched[key] = t)))) return { items: out, complete: false };
      if (!(await once({ ...base, guidance: s, promptSource: 'custom', customPrompt: mismatchedPrompt }, (m, t) => (rec.outputs[m].mismatched[key] = t)))) return { items: out, complete: false };
    }
    out.push(rec);
  }
  return { items: out, complete: true };
}
