/**
 * Scores of the leakage probe (leakage-run.ts), per guidance s and mode.
 *
 *   vs reference, for (a) matched, (b) empty, (c) mismatched outputs:
 *     accuracy (answer-match.ts, with a 95 % Wilson interval), mean token F1,
 *     mean CIDEr-D against the item's reference answer (idf over the probed
 *     items' reference answers).
 *   gap = (a) − (b) on each of those: what conditioning on the question adds.
 *   leakage = (c)'s output against the mismatched prompt: mean CIDEr-D (idf
 *     over the probed items' mismatched prompts) and mean token F1 — higher =
 *     more of the prompt read back (the study's measure, ≈2.0 → 12.6 as s
 *     went 1 → 4 for captions). control = the same scores for (b)'s output
 *     against the same mismatched prompts (overlap the image alone explains);
 *     excess = leakage − control.
 *   towardPartnerAnswer = (c)'s output against the partner's reference answer
 *     (CIDEr-D, F1, and the share of items where it matches the partner's
 *     answer but not its own): for VQA suites, answering the other question.
 *     (In the caption task the partner's reference is its caption, i.e. the
 *     mismatched prompt itself, scored with the reference idf.)
 *
 * (b) is computed once per item (guidance has no effect with an empty
 * prompt), so its numbers repeat in every row. Texts are scored as written;
 * an errored output counts as the empty string.
 */
import { matchAnswer } from './answer-match.js';
import type { LeakageCell, LeakageConditionScore, LeakageItem, LeakageReport, LeakageTask, MismatchSource } from '../../shared/contract.js';
import type { LeakageRun } from './leakage-run.js';
import { score } from './stats.js';
import { CiderScorer, mean, tokenF1 } from './text-metrics.js';

export const LEAKAGE_FORMAT = 'twinlens-leakage';

function condition(texts: readonly string[], items: readonly LeakageItem[], cider: CiderScorer): LeakageConditionScore {
  const right = texts.filter((t, i) => matchAnswer(t, items[i].answer, items[i].options).correct).length;
  return {
    accuracy: score(right, texts.length),
    f1: mean(texts.map((t, i) => tokenF1(t, items[i].answer))),
    cider: mean(texts.map((t, i) => cider.score(t, [items[i].answer]))),
  };
}

export interface LeakageReportInput {
  run: LeakageRun;
  suite: { name: string; hash: string; items: number };
  pack: { name: string; hash: string };
  modes: string[];
  guidance: number[];
  task?: LeakageTask;
  mismatchFrom?: MismatchSource;
  captionQuestion?: string;
  withoutItems?: boolean;
}

export function leakageReport(x: LeakageReportInput): LeakageReport {
  const items = x.run.items;
  const refCider = new CiderScorer(items.map((it) => [it.answer]));
  const promptCider = new CiderScorer(items.map((it) => [it.mismatchedPrompt]));
  const rows = x.guidance.map((s) => {
    const key = String(s);
    const modes: Record<string, LeakageCell> = {};
    for (const m of x.modes) {
      const matched = items.map((it) => it.outputs[m]?.matched[key] ?? '');
      const empty = items.map((it) => it.outputs[m]?.empty ?? '');
      const mismatched = items.map((it) => it.outputs[m]?.mismatched[key] ?? '');
      const a = condition(matched, items, refCider);
      const b = condition(empty, items, refCider);
      const c = condition(mismatched, items, refCider);
      const leakCider = mean(mismatched.map((t, i) => promptCider.score(t, [items[i].mismatchedPrompt])));
      const leakF1 = mean(mismatched.map((t, i) => tokenF1(t, items[i].mismatchedPrompt)));
      const ctrlCider = mean(empty.map((t, i) => promptCider.score(t, [items[i].mismatchedPrompt])));
      const ctrlF1 = mean(empty.map((t, i) => tokenF1(t, items[i].mismatchedPrompt)));
      const toward = mismatched.map((t, i) => matchAnswer(t, items[i].partnerAnswer).correct && !matchAnswer(t, items[i].answer, items[i].options).correct);
      modes[m] = {
        matched: a,
        empty: b,
        mismatched: c,
        gap: { accuracy: a.accuracy.accuracy - b.accuracy.accuracy, f1: a.f1 - b.f1, cider: a.cider - b.cider },
        leakage: { cider: leakCider, f1: leakF1, controlCider: ctrlCider, controlF1: ctrlF1, excessCider: leakCider - ctrlCider, excessF1: leakF1 - ctrlF1 },
        towardPartnerAnswer: {
          cider: mean(mismatched.map((t, i) => refCider.score(t, [items[i].partnerAnswer]))),
          f1: mean(mismatched.map((t, i) => tokenF1(t, items[i].partnerAnswer))),
          rate: toward.length ? toward.filter(Boolean).length / toward.length : 0,
        },
        errors: items.filter((it) => it.outputs[m]?.errors?.length).length,
      };
    }
    return { guidance: s, modes };
  });
  return {
    format: LEAKAGE_FORMAT,
    version: 1,
    suite: x.suite,
    pack: x.pack,
    modes: x.modes,
    guidance: x.guidance,
    task: x.task ?? 'qa',
    ...((x.task ?? 'qa') === 'qa' ? { mismatchFrom: x.mismatchFrom ?? 'question' } : { captionQuestion: x.captionQuestion ?? x.run.items[0]?.question }),
    evaluated: items.length,
    complete: x.run.complete,
    metric: 'CIDEr-D (n=1..4, tf-idf with idf over the probed items, clipped, length penalty sigma 6, x10) and token F1; see src/engine/eval/text-metrics.ts',
    rows,
    ...(x.withoutItems ? {} : { items }),
  };
}
