/**
 * The records an evaluation produces, one concept: what one item's answers
 * look like once judged, and what a run's header pins down. They are the
 * lines of a results file (JSONL: a header, then one item record per item ×
 * sweep setting), the unit a resumed run skips, the thing shards merge and
 * the thing two runs are diffed on. Scores are always recomputed from them.
 */
import type { DiffusionSettings, GenerationSettings, StopReason } from '../../shared/contract.js';
import type { AnswerOption, MatchRule } from './answer-match.js';

export const RESULTS_FORMAT = 'twinlens-eval-results';
export const RESULTS_VERSION = 1;

/** One mode's answer to one item, judged. */
export interface ItemAnswer {
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
export interface UsedSettings {
  t: number;
  guidance: number;
  tap: string;
  promptSource: string;
  seed: number;
  ensemble: number;
}

export interface ItemRecord {
  type: 'item';
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
  answers: Record<string, ItemAnswer>;
  used?: UsedSettings;
}

export type SweepKey = 't' | 'guidance' | 'tap' | 'seed' | 'ensemble' | 'prompt';

export interface SweepSpec {
  key: SweepKey;
  values: Array<string | number>;
}

/** Everything that must agree for two results files to be parts of one run. */
export interface RunHeader {
  type: 'header';
  format: typeof RESULTS_FORMAT;
  version: typeof RESULTS_VERSION;
  suite: { name: string; format: string; hash: string; items: number };
  pack: { name: string; hash: string };
  modes: string[];
  diffusion: DiffusionSettings;
  generation: GenerationSettings;
  sweep?: SweepSpec;
  /** Only the first `limit` items of the suite. */
  limit?: number;
  /** 1-based shard index of count: items whose index % count === index − 1. */
  shard?: { index: number; count: number };
  /** Informational, not compared. */
  created?: string;
}

/** The sweep setting labels of a header, in order ("default" without a sweep). */
export function settingLabels(h: Pick<RunHeader, 'sweep'>): string[] {
  return h.sweep ? h.sweep.values.map((v) => `${h.sweep!.key}=${v}`) : ['default'];
}

/** Key of one record in a run: setting and item id. */
export function recordKey(r: Pick<ItemRecord, 'setting' | 'id'>): string {
  return `${r.setting}\u0000${r.id}`;
}

/** Fields of two headers that differ, ignoring `created` and (optionally) the shard index. */
export function headerDifferences(a: RunHeader, b: RunHeader, ignoreShardIndex = false): string[] {
  const diffs: string[] = [];
  const cmp = (name: string, x: unknown, y: unknown) => {
    const sx = JSON.stringify(x ?? null, sortKeys);
    const sy = JSON.stringify(y ?? null, sortKeys);
    if (sx !== sy) diffs.push(`${name}: ${sx} vs ${sy}`);
  };
  cmp('suite', a.suite, b.suite);
  cmp('pack', a.pack, b.pack);
  cmp('modes', a.modes, b.modes);
  cmp('diffusion', a.diffusion, b.diffusion);
  cmp('generation', a.generation, b.generation);
  cmp('sweep', a.sweep, b.sweep);
  cmp('limit', a.limit, b.limit);
  if (ignoreShardIndex) cmp('shard count', a.shard?.count ?? 1, b.shard?.count ?? 1);
  else cmp('shard', a.shard, b.shard);
  return diffs;
}

/** JSON.stringify replacer that sorts object keys and drops undefined, so equal settings print equally. */
export function sortKeys(_k: string, v: unknown): unknown {
  if (v && typeof v === 'object' && !Array.isArray(v)) {
    return Object.fromEntries(
      Object.keys(v as object)
        .sort()
        .filter((k) => (v as Record<string, unknown>)[k] !== undefined)
        .map((k) => [k, (v as Record<string, unknown>)[k]]),
    );
  }
  return v;
}

/** Does item `index` belong to this shard? */
export function inShard(index: number, shard: RunHeader['shard']): boolean {
  return !shard || index % shard.count === shard.index - 1;
}
