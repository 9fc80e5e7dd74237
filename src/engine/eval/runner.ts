/**
 * The evaluation loop. It runs in the HOST process (CLI, web server, Electron
 * main) and reaches the engine only through an injected `ask` function —
 * EngineClient.call bound to 'ask' — so every surface runs suites the same way
 * and the engine process stays a plain request server. For each item (in
 * suite order, this shard's only) and each sweep setting it asks every mode,
 * judges the answers, appends the record to the results file, and reports
 * progress with an ETA; a stop (AbortSignal) leaves a results file that the
 * same call resumes.
 */
import * as path from 'node:path';
import type { AskParams, AskResult, DiffusionSettings, EngineEvent, EvalItemAnswer, GenerationSettings, ModeAnswer, SweepSpec } from '../../shared/contract.js';
import { toTwinLensError } from '../../shared/errors.js';
import { matchAnswer } from './answer-match.js';
import { inShard, type ItemRecord, recordKey, RESULTS_FORMAT, RESULTS_VERSION, type RunHeader, settingLabels } from './records.js';
import { ResultsWriter } from './results-file.js';
import type { Suite, SuiteItem } from './suite.js';
import { applySweep, checkSweepConflict, sweepIndependentModes } from './sweep.js';

/** EngineClient.call('ask', …) with the method bound. */
export type AskFn = (params: AskParams, opts: { signal?: AbortSignal; onEvent?: (e: EngineEvent) => void }) => Promise<AskResult>;

export interface EvalProgress {
  /** Item × setting units finished, resumed ones included. */
  done: number;
  total: number;
  /** Units found in the results file at the start. */
  resumed: number;
  elapsedMs: number;
  /** Estimated time left, from this session's pace (absent before the first unit). */
  etaMs?: number;
  item?: string;
  setting?: string;
  /** Running accuracy per mode over the finished units. */
  running: Record<string, { correct: number; n: number }>;
}

export interface EvalOptions {
  /** Mode ids to ask (resolve 'all' with packInfo first). */
  modes: string[];
  /** Mode id → inputs (PackInfo.modes): modes without diffusion are asked once per item, not per sweep row. */
  modeInputs?: Record<string, string[]>;
  diffusion?: DiffusionSettings;
  generation?: GenerationSettings;
  sweep?: SweepSpec;
  /** Only the first N items of the suite. */
  limit?: number;
  /** 1-based shard of count (items with index % count === index − 1). */
  shard?: { index: number; count: number };
  /** Identifies the pack in the header (name + sha256 of pack.json). */
  pack: { name: string; hash: string };
  /** JSONL results file: created, or resumed when it holds the same run. */
  resultsFile?: string;
  /** Start the results file over instead of resuming it. */
  fresh?: boolean;
  signal?: AbortSignal;
  onProgress?: (p: EvalProgress) => void;
  onRecord?: (r: ItemRecord) => void;
}

export interface EvalRun {
  header: RunHeader;
  /** Every record of this run (resumed and new), in setting then suite order. */
  records: ItemRecord[];
  /** False when stopped before every unit was done. */
  complete: boolean;
  resumed: number;
}

/** The header a run with these options writes (and a resumed run must match). */
export function runHeader(suite: Suite, o: EvalOptions): RunHeader {
  return {
    type: 'header',
    format: RESULTS_FORMAT,
    version: RESULTS_VERSION,
    suite: { name: suite.name, format: suite.format, hash: suite.hash, items: suite.items.length },
    pack: o.pack,
    modes: [...o.modes],
    diffusion: o.diffusion ?? {},
    generation: o.generation ?? {},
    ...(o.sweep ? { sweep: o.sweep } : {}),
    ...(o.limit !== undefined ? { limit: o.limit } : {}),
    ...(o.shard && o.shard.count > 1 ? { shard: o.shard } : {}),
    created: new Date().toISOString(),
  };
}

/** The items a run covers: the first `limit`, then this shard's. */
export function runItems(suite: Suite, o: Pick<EvalOptions, 'limit' | 'shard'>): SuiteItem[] {
  return suite.items.slice(0, o.limit ?? suite.items.length).filter((it) => inShard(it.index, o.shard));
}

function judged(a: ModeAnswer, item: SuiteItem): EvalItemAnswer {
  const base = { text: a.text, ms: Math.round(a.ms), tokens: a.tokens, stop: a.stop };
  if (a.error) return { ...base, correct: false, rule: 'none', error: a.error.message };
  const m = matchAnswer(a.text, item.answer, item.options);
  return { ...base, correct: m.correct, rule: m.rule, ...(m.chosen !== undefined ? { chosen: m.chosen } : {}) };
}

function baseRecord(item: SuiteItem, suite: Suite, setting: string): Omit<ItemRecord, 'answers' | 'imageHash'> {
  return {
    type: 'item',
    setting,
    id: item.id,
    index: item.index,
    question: item.question,
    answer: item.answer,
    ...(item.options ? { options: item.options } : {}),
    ...(item.pair !== undefined ? { pair: item.pair } : {}),
    ...(item.category !== undefined ? { category: item.category } : {}),
    ...(item.tags ? { tags: item.tags } : {}),
    image: path.relative(path.dirname(suite.path), item.image).split(path.sep).join('/'),
  };
}

function failedAnswers(modes: readonly string[], message: string): Record<string, EvalItemAnswer> {
  return Object.fromEntries(
    modes.map((m) => [m, { text: '', correct: false, rule: 'none', ms: 0, tokens: 0, stop: 'error', error: message } satisfies EvalItemAnswer]),
  );
}

/** Runs (or resumes) an evaluation; see the file comment. */
export async function runEval(ask: AskFn, suite: Suite, o: EvalOptions): Promise<EvalRun> {
  checkSweepConflict(o.diffusion ?? {}, o.sweep);
  const header = runHeader(suite, o);
  const settings = settingLabels(header);
  const items = runItems(suite, o);
  const independent = o.sweep ? sweepIndependentModes(o.modes, o.modeInputs) : new Set<string>();
  const opened = o.resultsFile ? ResultsWriter.open(o.resultsFile, header, { fresh: o.fresh }) : undefined;
  const done = new Map<string, ItemRecord>((opened?.done ?? []).map((r) => [recordKey(r), r]));
  const resumed = done.size;
  const total = items.length * settings.length;
  const running: EvalProgress['running'] = Object.fromEntries(o.modes.map((m) => [m, { correct: 0, n: 0 }]));
  const count = (r: ItemRecord) => {
    for (const [m, a] of Object.entries(r.answers)) {
      if (!running[m]) continue;
      running[m].n++;
      if (a.correct) running[m].correct++;
    }
  };
  for (const r of done.values()) count(r);
  const started = performance.now();
  let fresh = 0;
  const report = (item?: string, setting?: string) => {
    const elapsedMs = performance.now() - started;
    const left = total - done.size;
    o.onProgress?.({ done: done.size, total, resumed, elapsedMs, ...(fresh ? { etaMs: (elapsedMs / fresh) * left } : {}), item, setting, running });
  };
  report();
  let stopped = false;
  try {
    outer: for (const item of items) {
      for (let si = 0; si < settings.length; si++) {
        const setting = settings[si];
        const key = recordKey({ setting, id: item.id });
        if (done.has(key)) continue;
        if (o.signal?.aborted) {
          stopped = true;
          break outer;
        }
        const first = si > 0 ? done.get(recordKey({ setting: settings[0], id: item.id })) : undefined;
        const reuse = first ? o.modes.filter((m) => independent.has(m) && first.answers[m]) : [];
        const toAsk = o.modes.filter((m) => !reuse.includes(m));
        const diffusion = o.sweep ? applySweep(o.diffusion ?? {}, o.sweep.key, o.sweep.values[si]) : (o.diffusion ?? {});
        let answers: Record<string, EvalItemAnswer> = {};
        let imageHash = first?.imageHash ?? '';
        let used: ItemRecord['used'];
        if (toAsk.length) {
          let result: AskResult | undefined;
          for (let attempt = 0; attempt < 2 && !result; attempt++) {
            try {
              result = await ask(
                { image: { path: item.image }, question: item.question, modes: toAsk, diffusion, generation: o.generation ?? {} },
                { signal: o.signal },
              );
            } catch (e) {
              const err = toTwinLensError(e);
              if (err.code === 'CANCELLED' || o.signal?.aborted) {
                stopped = true;
                break outer;
              }
              if (err.code === 'ENGINE_DISPOSED') throw err;
              // A crash restarts the engine: try the item once more, then record the failure.
              if (err.code === 'ENGINE_CRASHED' && attempt === 0) continue;
              answers = failedAnswers(toAsk, `${err.code}: ${err.message}`);
              break;
            }
          }
          if (result) {
            if (o.signal?.aborted || Object.values(result.answers).some((a) => a.stop === 'cancelled')) {
              stopped = true;
              break outer;
            }
            imageHash = result.imageHash;
            for (const m of toAsk)
              answers[m] = result.answers[m] ? judged(result.answers[m], item) : failedAnswers([m], 'the engine returned no answer for this mode')[m];
            const s = result.settings;
            if (toAsk.some((m) => !o.modeInputs || o.modeInputs[m]?.includes('diffusion'))) {
              used = { t: s.t, guidance: s.guidance, tap: s.tap, promptSource: s.promptSource, seed: s.seed, ensemble: s.ensemble };
            }
          }
        }
        for (const m of reuse) answers[m] = { ...first!.answers[m], reused: true };
        const ordered = Object.fromEntries(o.modes.map((m) => [m, answers[m]]));
        const record: ItemRecord = { ...baseRecord(item, suite, setting), imageHash, answers: ordered, ...(used ? { used } : {}) };
        opened?.writer.append(record);
        done.set(key, record);
        fresh++;
        count(record);
        o.onRecord?.(record);
        report(item.id, setting);
      }
    }
  } finally {
    opened?.writer.close();
  }
  const order = new Map(settings.map((s, i) => [s, i]));
  const records = [...done.values()].sort((a, b) => order.get(a.setting)! - order.get(b.setting)! || a.index - b.index);
  return { header, records, complete: !stopped && records.length === total, resumed };
}
