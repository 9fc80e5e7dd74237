/**
 * The leakage probe's runs (DESIGN.md §1.5). A language model trained on
 * prompt-conditioned diffusion features can read the SD prompt back out of
 * them instead of looking at the image. For every item and every mode that
 * reads diffusion features, the same LLM question is answered three ways,
 * only the SD prompt changing (AskParams.diffusion.promptSource/customPrompt):
 *
 *   (a) matched     the item's own prompt text, per guidance s
 *   (b) empty       promptSource 'empty': unconditional features; f_c = f_u makes
 *                   guidance irrelevant, so it is asked once per item
 *   (c) mismatched  promptSource 'custom' with another item's prompt text, per s
 *
 * Two tasks:
 *   qa (default)  LLM question = the item's question, reference = its answer,
 *                 prompt text = its question ((a) uses promptSource 'question');
 *                 with mismatchFrom 'answer' the prompt text is the answer
 *                 field instead, for (a) and (c) alike (suites whose answers
 *                 are captions).
 *   caption       the study's test: LLM question = a fixed caption request
 *                 ("describe the image"), reference = the item's caption (the
 *                 JSONL "caption" field), prompt text = captions ((a) = its own,
 *                 (c) = the partner's, as promptSource 'custom').
 *
 * The partner is a deterministic derangement: item i takes the first item j,
 * scanning i + ⌊N/2⌋, i + ⌊N/2⌋ + 1, … (mod N, j ≠ i), whose prompt text
 * differs from i's (canonical form) and whose image differs; failing that,
 * the first whose prompt text differs. Like the eval runner it runs in the
 * host over an injected `ask`.
 */
import type { DiffusionSettings, GenerationSettings, LeakageItem, LeakageTask, MismatchSource } from '../../shared/contract.js';
import { TwinLensError, toTwinLensError } from '../../shared/errors.js';
import { canonical } from './normalize.js';
import type { AskFn } from './runner.js';
import type { Suite, SuiteItem } from './suite.js';

export const DEFAULT_CAPTION_QUESTION = 'describe the image';

export interface LeakageOptions {
  /** Modes to probe (those reading diffusion features). */
  modes: string[];
  /** Guidance scales s to probe. */
  guidance: number[];
  task?: LeakageTask;
  /** qa task: where the mismatched prompt comes from. */
  mismatchFrom?: MismatchSource;
  /** caption task: the LLM question. */
  captionQuestion?: string;
  /** Other diffusion overrides (t, tap, seed, …); guidance and prompt are set by the probe. */
  diffusion?: DiffusionSettings;
  generation?: GenerationSettings;
  limit?: number;
  signal?: AbortSignal;
  onProgress?: (p: { done: number; total: number; elapsedMs: number; etaMs?: number; item?: string }) => void;
}

/** One probed item: what was asked, the prompts, and per mode matched[s] / empty / mismatched[s] (keys String(s)). */
export interface LeakageRun {
  items: LeakageItem[];
  complete: boolean;
}

interface Probe {
  item: SuiteItem;
  question: string;
  reference: string;
  options?: SuiteItem['options'];
  /** Prompt text this item lends as (a), and as (c) to the item it partners. */
  prompt: string;
}

function probes(items: readonly SuiteItem[], task: LeakageTask, from: MismatchSource, captionQuestion: string): Probe[] {
  if (task === 'caption') {
    const missing = items.filter((it) => !it.caption);
    if (missing.length)
      throw new TwinLensError(
        'INVALID_ARGUMENT',
        `The caption task needs a "caption" on every item; ${missing.length} lack one (first: "${missing[0].id}")`,
        'Use --task qa, or a suite with captions',
      );
    return items.map((item) => ({ item, question: captionQuestion, reference: item.caption!, prompt: item.caption! }));
  }
  return items.map((item) => ({
    item,
    question: item.question,
    reference: item.answer,
    ...(item.options ? { options: item.options } : {}),
    prompt: from === 'answer' ? item.answer : item.question,
  }));
}

/** Partner index of each item for these prompt texts (see the file comment); throws when all prompts are equal. */
export function mismatchPartners(items: ReadonlyArray<Pick<SuiteItem, 'id' | 'image'>>, prompts: readonly string[]): number[] {
  const n = items.length;
  if (n < 2) throw new TwinLensError('INVALID_ARGUMENT', 'The leakage probe needs at least two items (a mismatched prompt comes from another item)');
  const text = prompts.map(canonical);
  const offset = Math.floor(n / 2);
  return items.map((it, i) => {
    let fallback = -1;
    for (let k = 0; k < n; k++) {
      const j = (i + offset + k) % n;
      if (j === i || text[j] === text[i]) continue;
      if (items[j].image !== it.image) return j;
      if (fallback < 0) fallback = j;
    }
    if (fallback < 0)
      throw new TwinLensError(
        'INVALID_ARGUMENT',
        `Every item's prompt reads "${prompts[i]}": no mismatched prompt for item "${it.id}"`,
        'Use a suite with varied prompts',
      );
    return fallback;
  });
}

/** Runs the three conditions over the suite (first `limit` items); a stop returns the items finished. */
export async function runLeakage(ask: AskFn, suite: Suite, o: LeakageOptions): Promise<LeakageRun> {
  if (!o.modes.length) throw new TwinLensError('MODE_UNAVAILABLE', 'No mode to probe: leakage needs a mode that reads diffusion features');
  if (!o.guidance.length) throw new TwinLensError('INVALID_ARGUMENT', 'The leakage probe needs at least one guidance scale');
  const task = o.task ?? 'qa';
  const ps = probes(suite.items.slice(0, o.limit ?? suite.items.length), task, o.mismatchFrom ?? 'question', o.captionQuestion ?? DEFAULT_CAPTION_QUESTION);
  const partners = mismatchPartners(
    ps.map((p) => p.item),
    ps.map((p) => p.prompt),
  );
  const total = ps.length * (1 + 2 * o.guidance.length);
  const { guidance: _g, promptSource: _p, customPrompt: _c, ...base } = o.diffusion ?? {};
  const started = performance.now();
  let done = 0;
  const out: LeakageItem[] = [];
  for (let i = 0; i < ps.length; i++) {
    const p = ps[i];
    const partner = ps[partners[i]];
    const rec: LeakageItem = {
      id: p.item.id,
      question: p.question,
      answer: p.reference,
      ...(p.options ? { options: p.options } : {}),
      prompt: p.prompt,
      partner: partner.item.id,
      mismatchedPrompt: partner.prompt,
      partnerAnswer: partner.reference,
      outputs: Object.fromEntries(o.modes.map((m) => [m, { matched: {}, empty: '', mismatched: {} }])),
    };
    const once = async (diffusion: DiffusionSettings, put: (mode: string, text: string) => void): Promise<boolean> => {
      if (o.signal?.aborted) return false;
      try {
        const r = await ask(
          { image: { path: p.item.image }, question: p.question, modes: o.modes, diffusion, generation: o.generation ?? {} },
          { signal: o.signal },
        );
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
      done++;
      const elapsedMs = performance.now() - started;
      o.onProgress?.({ done, total, elapsedMs, etaMs: (elapsedMs / done) * (total - done), item: p.item.id });
      return true;
    };
    const matched: DiffusionSettings =
      task === 'qa' && o.mismatchFrom !== 'answer' ? { promptSource: 'question' } : { promptSource: 'custom', customPrompt: p.prompt };
    if (!(await once({ ...base, guidance: o.guidance[0], promptSource: 'empty' }, (m, t) => (rec.outputs[m].empty = t))))
      return { items: out, complete: false };
    for (const s of o.guidance) {
      const key = String(s);
      if (!(await once({ ...base, guidance: s, ...matched }, (m, t) => (rec.outputs[m].matched[key] = t)))) return { items: out, complete: false };
      if (!(await once({ ...base, guidance: s, promptSource: 'custom', customPrompt: partner.prompt }, (m, t) => (rec.outputs[m].mismatched[key] = t))))
        return { items: out, complete: false };
    }
    out.push(rec);
  }
  return { items: out, complete: true };
}
