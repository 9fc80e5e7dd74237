/**
 * The evaluation summary: the one JSON document `twinlens eval --json` prints
 * and `--out FILE.json` writes (models/mini-world/eval.json is one). It is
 * built from a header and judged records only, so a single run, a resumed run
 * and merged shards give the same document (bar `created` and timings).
 *
 * Shape (format "twinlens-eval", version 1):
 *   {
 *     "format": "twinlens-eval", "version": 1,
 *     "suite":  {"name", "format": "jsonl"|"mmvp", "hash": sha256, "items": N in the suite},
 *     "pack":   {"name", "hash": sha256 of pack.json},
 *     "modes":  ["clip", "diffusion", "fused"],
 *     "diffusion": {…overrides}, "generation": {…overrides},
 *     "sweep"?: {"key": "t", "values": [10, 50]}, "limit"?: N,
 *     "evaluated": items covered, "complete": bool, "missing": units not done,
 *     "shards"?: [1, 2]  (merged runs: the shard indices found),
 *     "results": [ {                                  one row per sweep setting
 *        "setting": "default" | "t=50",
 *        "modes": { "<mode>": {"n", "correct", "accuracy", "ci95": [lo, hi], "errors",
 *                              "pairs"?: {"n", "correct", "accuracy", "ci95"},
 *                              "categories": {"<cat>": {"n", "correct", "accuracy", "ci95"}},
 *                              "by"?: {"<tag>": {"<value>": {"n", "correct", "accuracy", "ci95"}}}}},
 *        "timing": { "<mode>": {"meanMs", "meanTokens"} } } ],
 *     "items"?: [ {"setting", "id", "index", "question", "answer", "options"?, "pair"?,
 *                 "category"?, "tags"?, "image", "imageHash", "used"?,
 *                 "answers": {"<mode>": {"text", "correct", "rule", "chosen"?, "ms",
 *                                        "tokens", "stop", "error"?, "reused"?}}} ]
 *   }
 * Accuracies are fractions in [0, 1]; ci95 is the Wilson interval (stats.ts).
 */
import type { EvalSummary } from '../../shared/contract.js';
import { TwinLensError } from '../../shared/errors.js';
import { judge } from './results-file.js';
import { type ItemRecord, type RunHeader, settingLabels } from './records.js';
import { scoreRun } from './stats.js';

export const SUMMARY_FORMAT = 'twinlens-eval';

export interface SummaryOptions {
  /** Leave the per-item answers out (smaller file; no item diff possible). */
  withoutItems?: boolean;
  /** Shard indices of a merged run. */
  shards?: number[];
  /** Item tag fields to break scores down by (`--by target`). */
  by?: string[];
}

/** Items a complete run covers (the shard-less run: first `limit` of the suite). */
export function expectedItems(h: RunHeader): number {
  const all = h.suite.items;
  const limited = h.limit !== undefined ? Math.min(h.limit, all) : all;
  if (!h.shard) return limited;
  let n = 0;
  for (let i = 0; i < limited; i++) if (i % h.shard.count === h.shard.index - 1) n++;
  return n;
}

export function summarize(header: RunHeader, records: readonly ItemRecord[], opts: SummaryOptions = {}): EvalSummary {
  const settings = settingLabels(header);
  const expectedUnits = expectedItems(header) * settings.length;
  const ids = new Set(records.map((r) => r.id));
  return {
    format: SUMMARY_FORMAT,
    version: 1,
    suite: header.suite,
    pack: header.pack,
    modes: header.modes,
    diffusion: header.diffusion,
    generation: header.generation,
    ...(header.sweep ? { sweep: header.sweep } : {}),
    ...(header.limit !== undefined ? { limit: header.limit } : {}),
    evaluated: ids.size,
    complete: records.length >= expectedUnits,
    missing: Math.max(0, expectedUnits - records.length),
    ...(opts.shards && opts.shards.length > 1 ? { shards: opts.shards } : {}),
    ...(header.created ? { created: header.created } : {}),
    results: scoreRun(records, settings, header.modes, opts.by),
    ...(opts.withoutItems ? {} : { items: records.map(({ type: _t, ...rest }) => rest) }),
  };
}

/** The header and records a summary (with items) describes; used by --diff on summary files. */
export function recordsOfSummary(s: EvalSummary, file = 'summary'): { header: RunHeader; records: ItemRecord[] } {
  if (s.format !== SUMMARY_FORMAT) throw new TwinLensError('INVALID_ARGUMENT', `${file} is not a TwinLens eval summary (format ${JSON.stringify(s.format)})`);
  if (!s.items)
    throw new TwinLensError('INVALID_ARGUMENT', `${file} has no per-item answers (written with --summary-only)`, 'Diff the results .jsonl files instead');
  const header: RunHeader = {
    type: 'header',
    format: 'twinlens-eval-results',
    version: 1,
    suite: s.suite,
    pack: s.pack,
    modes: s.modes,
    diffusion: s.diffusion,
    generation: s.generation,
    ...(s.sweep ? { sweep: s.sweep } : {}),
    ...(s.limit !== undefined ? { limit: s.limit } : {}),
  };
  return { header, records: s.items.map((it) => judge({ type: 'item', ...it })) };
}

/** A summary without what legitimately differs between equal runs (timings, created, shards): for comparisons. */
export function comparable(s: EvalSummary): unknown {
  const { created: _c, shards: _s, results, items, ...rest } = s;
  return {
    ...rest,
    results: results.map(({ timing: _t, ...r }) => r),
    items: items?.map((it) => ({ ...it, answers: Object.fromEntries(Object.entries(it.answers).map(([m, { ms: _ms, ...a }]) => [m, a])) })),
  };
}
