/**
 * The evaluation module's entry point: everything a host (CLI, web server,
 * Electron main) needs to run a benchmark or the leakage probe over an
 * injected `ask` — suites, the runners, scores, summaries, reports. Also
 * `loadSuite`, which picks the reader for a suite spec (file, folder or
 * built-in name). Nothing here loads a model: the engine process does that.
 */
import * as path from 'node:path';
import { type LoadSuiteOptions, resolveSuitePath, type Suite } from './suite.js';
import { readJsonlSuite } from './suite-jsonl.js';
import { readMmvpSuite } from './suite-mmvp.js';

/** Loads a suite from a file, a folder, or a built-in name of the pack (<pack>/suites/NAME.jsonl). */
export function loadSuite(spec: string, opts: LoadSuiteOptions = {}): Suite {
  const file = resolveSuitePath(spec, opts.packDir);
  return path.extname(file).toLowerCase() === '.csv' ? readMmvpSuite(file, opts.imagesDir) : readJsonlSuite(file);
}

export { type AnswerOption, matchAnswer, type MatchResult, parseOptionString } from './answer-match.js';
export { diffRuns, type RunDiff } from './diff.js';
export { leakageReport } from './leakage-report.js';
export { DEFAULT_CAPTION_QUESTION, type LeakageOptions, type LeakageRun, mismatchPartners, runLeakage } from './leakage-run.js';
export type { ItemRecord, RunHeader } from './records.js';
export { formatDiff, formatEvalSummary, formatLeakage } from './report.js';
export { judge, mergeResults, readResults } from './results-file.js';
export { type AskFn, type EvalOptions, type EvalProgress, type EvalRun, runEval } from './runner.js';
export { wilson } from './stats.js';
export { builtInSuites, type Suite, type SuiteItem } from './suite.js';
export { comparable, recordsOfSummary, summarize } from './summary.js';
export { parseSweep } from './sweep.js';
export { CiderScorer, tokenF1 } from './text-metrics.js';
