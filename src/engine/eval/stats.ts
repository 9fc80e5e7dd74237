/**
 * Scores from judged item records: accuracy per mode and per category with a
 * 95 % Wilson score interval, and pair accuracy (a pair counts as right only
 * when every item sharing its pair id is right, as MMVP scores pairs).
 * Scores are recomputed from the records every time, so a resumed, sharded
 * or merged run reports exactly what one uninterrupted run would.
 *
 * Wilson interval for k right out of n, z = 1.959964 (two-sided 95 %):
 *   p̂ = k/n,  centre = (p̂ + z²/2n) / (1 + z²/n),
 *   half = z·√(p̂(1−p̂)/n + z²/4n²) / (1 + z²/n),  CI = [centre − half, centre + half]
 * (n = 0 gives [0, 1]). Unlike p̂ ± z·√(p̂(1−p̂)/n) it stays inside [0, 1]
 * and is sensible at p̂ = 0 or 1 — small suites are the norm here.
 */
import type { EvalScore, EvalSettingScore } from '../../shared/contract.js';
import type { ItemRecord } from './records.js';

export const Z95 = 1.959963984540054;

/** The 95 % (or other z) Wilson score interval for k successes in n trials. */
export function wilson(k: number, n: number, z = Z95): [number, number] {
  if (n <= 0) return [0, 1];
  const p = k / n;
  const z2 = z * z;
  const denom = 1 + z2 / n;
  const centre = (p + z2 / (2 * n)) / denom;
  const half = (z * Math.sqrt((p * (1 - p)) / n + z2 / (4 * n * n))) / denom;
  return [Math.max(0, centre - half), Math.min(1, centre + half)];
}

export function score(correct: number, n: number): EvalScore {
  return { n, correct, accuracy: n ? correct / n : 0, ci95: wilson(correct, n) };
}

/**
 * Pair accuracy of one mode: groups the evaluated records by pair id; a group
 * with at least two items is one pair, right when all its items are right.
 * A pair id left with one evaluated item (its partner cut by --limit) is not
 * a pair; `undefined` when no record has a pair id.
 */
export function pairScore(records: readonly ItemRecord[], mode: string): EvalScore | undefined {
  const groups = new Map<string, boolean[]>();
  for (const r of records) {
    if (r.pair === undefined || !r.answers[mode]) continue;
    const g = groups.get(r.pair) ?? [];
    g.push(r.answers[mode].correct);
    groups.set(r.pair, g);
  }
  let n = 0;
  let k = 0;
  let any = false;
  for (const g of groups.values()) {
    any = true;
    if (g.length < 2) continue;
    n++;
    if (g.every(Boolean)) k++;
  }
  return any ? score(k, n) : undefined;
}

/** Accuracy of one mode per value of a key (items without a value are left out), values sorted. */
function breakdown(records: readonly ItemRecord[], mode: string, key: (r: ItemRecord) => string | undefined): Record<string, EvalScore> {
  const m = new Map<string, [number, number]>();
  for (const r of records) {
    const a = r.answers[mode];
    const v = key(r);
    if (!a || v === undefined) continue;
    const c = m.get(v) ?? [0, 0];
    c[0] += a.correct ? 1 : 0;
    c[1] += 1;
    m.set(v, c);
  }
  const out: Record<string, EvalScore> = {};
  for (const v of [...m.keys()].sort()) out[v] = score(m.get(v)![0], m.get(v)![1]);
  return out;
}

/** Scores of every mode over one setting's records; `by` adds breakdowns by item tags. */
export function scoreSetting(setting: string, records: readonly ItemRecord[], modes: readonly string[], by: readonly string[] = []): EvalSettingScore {
  const out: EvalSettingScore = { setting, modes: {}, timing: {} };
  for (const mode of modes) {
    let n = 0;
    let k = 0;
    let errors = 0;
    let ms = 0;
    let tokens = 0;
    for (const r of records) {
      const a = r.answers[mode];
      if (!a) continue;
      n++;
      if (a.correct) k++;
      if (a.error) errors++;
      ms += a.ms;
      tokens += a.tokens;
    }
    const categories = breakdown(records, mode, (r) => r.category);
    const pairs = pairScore(records, mode);
    const tagged = by.length ? Object.fromEntries(by.map((f) => [f, breakdown(records, mode, (r) => r.tags?.[f])])) : undefined;
    out.modes[mode] = { ...score(k, n), errors, ...(pairs ? { pairs } : {}), categories, ...(tagged ? { by: tagged } : {}) };
    out.timing[mode] = { meanMs: n ? ms / n : 0, meanTokens: n ? tokens / n : 0 };
  }
  return out;
}

/** Scores per setting, in the given setting order. */
export function scoreRun(
  records: readonly ItemRecord[],
  settings: readonly string[],
  modes: readonly string[],
  by: readonly string[] = [],
): EvalSettingScore[] {
  return settings.map((s) =>
    scoreSetting(
      s,
      records.filter((r) => r.setting === s),
      modes,
      by,
    ),
  );
}
