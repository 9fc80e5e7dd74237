/**
 * Plain-text tables of evaluation results for terminals and logs: the
 * per-mode scores with confidence intervals, the per-category breakdown, a
 * sweep in the study's Table 1 shape (rows = setting, columns = modes), the
 * leakage probe per guidance s, and an item diff of two runs. Pure string
 * formatting over the JSON documents, so every surface prints the same.
 */
import type { RunDiff } from './diff.js';
import type { EvalScore, EvalSummary, LeakageReport } from '../../shared/contract.js';

/** Renders rows as aligned columns (first column left-aligned, the rest right-aligned). */
export function table(head: string[], rows: string[][]): string {
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ');
  return [line(head), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n');
}

const pct = (x: number) => `${(100 * x).toFixed(1)}`;

/** "61.3 [55.0–67.2]" (percent, Wilson 95 %). */
export function formatScore(s: EvalScore | undefined): string {
  if (!s || !s.n) return '—';
  return `${pct(s.accuracy)} [${pct(s.ci95[0])}–${pct(s.ci95[1])}]`;
}

function describeRun(s: EvalSummary): string {
  const parts = [`suite ${s.suite.name} (${s.evaluated}${s.evaluated !== s.suite.items ? ` of ${s.suite.items}` : ''} items)`, `pack ${s.pack.name}`];
  const fixed = Object.entries(s.diffusion).filter(([, v]) => v !== undefined);
  if (fixed.length) parts.push(fixed.map(([k, v]) => `${k}=${v}`).join(' '));
  if (!s.complete) parts.push(`INCOMPLETE: ${s.missing} item×setting runs missing`);
  return parts.join(' · ');
}

/** Human-readable tables for an evaluation summary. */
export function formatEvalSummary(s: EvalSummary): string {
  const out: string[] = [describeRun(s), ''];
  if (s.sweep) {
    out.push(`Accuracy % [95 % CI] by ${s.sweep.key} (rows) and mode (columns)`);
    out.push(
      table(
        [s.sweep.key, ...s.modes],
        s.results.map((r) => [r.setting.replace(/^[^=]+=/, ''), ...s.modes.map((m) => formatScore(r.modes[m]))]),
      ),
    );
    if (s.results.some((r) => s.modes.some((m) => r.modes[m]?.pairs?.n))) {
      out.push('', 'Pair accuracy % [95 % CI] (both items of a pair right)');
      out.push(
        table(
          [s.sweep.key, ...s.modes],
          s.results.map((r) => [r.setting.replace(/^[^=]+=/, ''), ...s.modes.map((m) => formatScore(r.modes[m]?.pairs))]),
        ),
      );
    }
    return out.join('\n');
  }
  const r = s.results[0];
  out.push(
    table(
      ['mode', 'accuracy % [95 % CI]', 'right/n', 'pairs % [95 % CI]', 'pairs right/n', 'errors', 'ms/item'],
      s.modes.map((m) => {
        const x = r.modes[m];
        return [
          m,
          formatScore(x),
          `${x.correct}/${x.n}`,
          formatScore(x.pairs),
          x.pairs ? `${x.pairs.correct}/${x.pairs.n}` : '—',
          String(x.errors),
          String(Math.round(r.timing[m]?.meanMs ?? 0)),
        ];
      }),
    ),
  );
  const cats = [...new Set(s.modes.flatMap((m) => Object.keys(r.modes[m]?.categories ?? {})))].sort();
  if (cats.length) {
    out.push('', 'By category: accuracy % [95 % CI]');
    out.push(
      table(
        ['category', ...s.modes],
        cats.map((c) => [`${c} (n=${r.modes[s.modes[0]]?.categories[c]?.n ?? 0})`, ...s.modes.map((m) => formatScore(r.modes[m]?.categories[c]))]),
      ),
    );
  }
  for (const field of Object.keys(r.modes[s.modes[0]]?.by ?? {})) {
    const values = [...new Set(s.modes.flatMap((m) => Object.keys(r.modes[m]?.by?.[field] ?? {})))].sort();
    out.push('', `By ${field}: accuracy % [95 % CI]`);
    out.push(
      table(
        [field, ...s.modes],
        values.map((v) => [`${v} (n=${r.modes[s.modes[0]]?.by?.[field]?.[v]?.n ?? 0})`, ...s.modes.map((m) => formatScore(r.modes[m]?.by?.[field]?.[v]))]),
      ),
    );
  }
  return out.join('\n');
}

const num = (x: number, d = 2) => (Number.isFinite(x) ? x.toFixed(d) : '—');
const signed = (x: number, d = 2) => (x >= 0 ? '+' : '') + num(x, d);

/** Human-readable tables for a leakage report: one block per mode, rows = guidance s. */
export function formatLeakage(r: LeakageReport): string {
  const out: string[] = [
    `Leakage probe · suite ${r.suite.name} (${r.evaluated} items${r.complete ? '' : ', INCOMPLETE'}) · pack ${r.pack.name} · ${r.task === 'caption' ? `caption task ("${r.captionQuestion}"; prompts = captions)` : `prompts = the items' ${r.mismatchFrom}s`}`,
    'leak = CIDEr-D / F1 of the mismatched-prompt answer against that prompt; ctrl = same for the empty-prompt answer; gap = matched − empty vs the reference',
  ];
  // Accuracy only means something for short answers, not for captions.
  const qa = r.task !== 'caption';
  for (const m of r.modes) {
    out.push('', `mode ${m}`);
    const head = [
      's',
      'leak CIDEr',
      'ctrl CIDEr',
      'excess',
      'leak F1',
      'ctrl F1',
      ...(qa ? ['acc a/b/c %', 'gap acc'] : []),
      'gap F1',
      'gap CIDEr',
      '→partner %',
    ];
    const rows = r.rows.map((row) => {
      const c = row.modes[m];
      return [
        String(row.guidance),
        num(c.leakage.cider),
        num(c.leakage.controlCider),
        signed(c.leakage.excessCider),
        num(c.leakage.f1, 3),
        num(c.leakage.controlF1, 3),
        ...(qa
          ? [`${pct(c.matched.accuracy.accuracy)}/${pct(c.empty.accuracy.accuracy)}/${pct(c.mismatched.accuracy.accuracy)}`, signed(100 * c.gap.accuracy, 1)]
          : []),
        signed(c.gap.f1, 3),
        signed(c.gap.cider),
        pct(c.towardPartnerAnswer.rate),
      ];
    });
    out.push(table(head, rows));
  }
  return out.join('\n');
}

/** Human-readable item diff of two runs. */
export function formatDiff(d: RunDiff, names: [string, string], maxItems = 10): string {
  const out: string[] = [];
  if (!d.sameSuite) out.push('warning: the two runs used different suite files; items are matched by id');
  out.push(
    table(
      ['setting', 'mode', 'both right', `only ${names[0]}`, `only ${names[1]}`, 'neither', 'McNemar p'],
      d.cells.map((c) => [c.setting, c.mode, String(c.both), String(c.onlyA), String(c.onlyB), String(c.neither), c.mcnemarP.toPrecision(3)]),
    ),
  );
  for (const c of d.cells) {
    if (!c.changed.length) continue;
    out.push('', `${c.mode} (${c.setting}): ${c.changed.length} changed`);
    for (const x of c.changed.slice(0, maxItems))
      out.push(`  ${x.nowRight ? '+' : '-'} ${x.id}: ${x.question} [${x.answer}]  ${JSON.stringify(x.a)} → ${JSON.stringify(x.b)}`);
    if (c.changed.length > maxItems) out.push(`  … ${c.changed.length - maxItems} more (see --json)`);
  }
  return out.join('\n');
}
