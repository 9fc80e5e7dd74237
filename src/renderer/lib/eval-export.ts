/**
 * Eval results as files: scores and per-item answers as CSV (RFC 4180
 * quoting), and the summary document itself as JSON (the same shape as
 * `twinlens eval --json`, so the CLI's --diff reads it).
 */
import type { EvalSummary } from '../../shared/contract.js';

export function csvCell(v: unknown): string {
  const s = v === undefined || v === null ? '' : String(v);
  return /[",\n\r]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

export function toCsv(rows: unknown[][]): string {
  return rows.map((r) => r.map(csvCell).join(',')).join('\r\n') + '\r\n';
}

/** One row per setting × mode × group (all, pairs, category:…). */
export function scoresCsv(s: EvalSummary): string {
  const rows: unknown[][] = [['setting', 'mode', 'group', 'n', 'correct', 'accuracy', 'ci95_low', 'ci95_high']];
  for (const r of s.results) {
    for (const [mode, m] of Object.entries(r.modes)) {
      rows.push([r.setting, mode, 'all', m.n, m.correct, m.accuracy.toFixed(4), m.ci95[0].toFixed(4), m.ci95[1].toFixed(4)]);
      if (m.pairs)
        rows.push([r.setting, mode, 'pairs', m.pairs.n, m.pairs.correct, m.pairs.accuracy.toFixed(4), m.pairs.ci95[0].toFixed(4), m.pairs.ci95[1].toFixed(4)]);
      for (const [c, x] of Object.entries(m.categories))
        rows.push([r.setting, mode, `category:${c}`, x.n, x.correct, x.accuracy.toFixed(4), x.ci95[0].toFixed(4), x.ci95[1].toFixed(4)]);
    }
  }
  return toCsv(rows);
}

/** One row per item × setting × mode. */
export function itemsCsv(s: EvalSummary): string {
  const rows: unknown[][] = [
    ['setting', 'id', 'index', 'category', 'pair', 'image', 'question', 'reference', 'mode', 'answer', 'correct', 'rule', 'ms', 'error'],
  ];
  for (const it of s.items ?? []) {
    for (const [mode, a] of Object.entries(it.answers)) {
      rows.push([it.setting, it.id, it.index, it.category, it.pair, it.image, it.question, it.answer, mode, a.text, a.correct, a.rule, a.ms, a.error]);
    }
  }
  return toCsv(rows);
}
