/**
 * Item-by-item comparison of two evaluation runs (`twinlens eval --diff A B`):
 * for each sweep setting and mode present in both, how many items both got
 * right, only A, only B, neither, and which items changed — with an exact
 * McNemar test on the discordant items, the standard check that two
 * classifiers on the same items really differ (two-sided p = P(X ≤ min(b, c))
 * × 2 for X ~ Binomial(b + c, ½), capped at 1).
 */
import type { ItemRecord } from './records.js';

export interface DiffCell {
  setting: string;
  mode: string;
  both: number;
  onlyA: number;
  onlyB: number;
  neither: number;
  /** Items judged by one run only (different limits or shards). */
  unmatched: number;
  mcnemarP: number;
  /** Items whose correctness changed, with both answers. */
  changed: Array<{ id: string; question: string; answer: string; a: string; b: string; nowRight: boolean }>;
}

export interface RunDiff {
  /** Whether both runs were on the same suite file. */
  sameSuite: boolean;
  cells: DiffCell[];
}

/** Exact two-sided McNemar p-value for b and c discordant counts. */
export function mcnemarExact(b: number, c: number): number {
  const n = b + c;
  if (n === 0) return 1;
  const k = Math.min(b, c);
  // P(X ≤ k), X ~ Bin(n, 1/2), summed in log space to stay finite for large n.
  let logC = 0;
  let sum = 0;
  for (let i = 0; i <= k; i++) {
    if (i > 0) logC += Math.log(n - i + 1) - Math.log(i);
    sum += Math.exp(logC - n * Math.LN2);
  }
  return Math.min(1, 2 * sum);
}

export function diffRuns(a: readonly ItemRecord[], b: readonly ItemRecord[], opts: { sameSuite?: boolean; maxChanged?: number } = {}): RunDiff {
  const index = (rs: readonly ItemRecord[]) => {
    const m = new Map<string, Map<string, ItemRecord>>();
    for (const r of rs) {
      const s = m.get(r.setting) ?? new Map<string, ItemRecord>();
      s.set(r.id, r);
      m.set(r.setting, s);
    }
    return m;
  };
  const A = index(a);
  const B = index(b);
  const cells: DiffCell[] = [];
  for (const [setting, ra] of A) {
    const rb = B.get(setting);
    if (!rb) continue;
    const modes = new Set<string>();
    for (const r of ra.values()) for (const m of Object.keys(r.answers)) modes.add(m);
    for (const mode of modes) {
      const cell: DiffCell = { setting, mode, both: 0, onlyA: 0, onlyB: 0, neither: 0, unmatched: 0, mcnemarP: 1, changed: [] };
      let inB = false;
      for (const [id, x] of ra) {
        const y = rb.get(id);
        const xa = x.answers[mode];
        const ya = y?.answers[mode];
        if (!xa || !ya) {
          cell.unmatched++;
          continue;
        }
        inB = true;
        if (xa.correct && ya.correct) cell.both++;
        else if (!xa.correct && !ya.correct) cell.neither++;
        else {
          if (xa.correct) cell.onlyA++;
          else cell.onlyB++;
          if (cell.changed.length < (opts.maxChanged ?? 200))
            cell.changed.push({ id, question: x.question, answer: x.answer, a: xa.text, b: ya.text, nowRight: ya.correct });
        }
      }
      for (const [id, y] of rb) if (y.answers[mode] && !ra.get(id)?.answers[mode]) cell.unmatched++;
      if (!inB) continue;
      cell.mcnemarP = mcnemarExact(cell.onlyA, cell.onlyB);
      cells.push(cell);
    }
  }
  return { sameSuite: opts.sameSuite ?? true, cells };
}
