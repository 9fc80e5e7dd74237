/**
 * The records an evaluation produces, one concept: what one item's answers
 * look like once judged, and what a run's header pins down. They are the
 * lines of a results file (JSONL: a header, then one item record per item ×
 * sweep setting), the unit a resumed run skips, the thing shards merge and
 * the thing two runs are diffed on. Scores are always recomputed from them.
 */
import type { EvalItemResult, EvalSummary } from '../../shared/contract.js';

export const RESULTS_FORMAT = 'twinlens-eval-results';
export const RESULTS_VERSION = 1;

/** A results-file line of one item × setting: the contract's EvalItemResult, tagged. */
export interface ItemRecord extends EvalItemResult {
  type: 'item';
}

/** Everything that must agree for two results files to be parts of one run. */
export interface RunHeader extends Pick<EvalSummary, 'suite' | 'pack' | 'modes' | 'diffusion' | 'generation' | 'sweep' | 'limit'> {
  type: 'header';
  format: typeof RESULTS_FORMAT;
  version: typeof RESULTS_VERSION;
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
