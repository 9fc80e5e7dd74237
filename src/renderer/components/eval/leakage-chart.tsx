/**
 * Hand-drawn SVG line chart of the leakage probe, self-contained like
 * charts.tsx (literal colours, white background) so it exports as PNG: per
 * mode, the leak CIDEr-D (the mismatched-prompt output scored against the
 * mismatched prompt) against guidance s as a solid line, and the
 * empty-prompt control (the empty-prompt output against the same prompts)
 * dashed. x is linear in s; y runs from 0 to a rounded maximum.
 */
import type { LeakageReport } from '../../../shared/contract.js';
import { modeColour } from './charts.js';

const FONT = 'system-ui, -apple-system, Segoe UI, Roboto, Arial, sans-serif';

/** A round upper bound ≥ v for the y axis (1, 2, 2.5, 5 × 10^k), at least 0.1. */
export function niceMax(v: number): number {
  if (!(v > 0.1)) return 0.1;
  const k = Math.pow(10, Math.floor(Math.log10(v)));
  for (const f of [1, 2, 2.5, 5, 10]) if (f * k >= v) return f * k;
  return 10 * k;
}

const fmt = (v: number) => (Math.abs(v) >= 10 ? v.toFixed(1) : v.toFixed(2));

export function LeakageLines({ report }: { report: LeakageReport }) {
  const left = 52;
  const top = 40;
  const h = 180;
  const plotW = 420;
  const width = left + plotW + 30;
  const height = top + h + 46;
  const rows = [...report.rows].sort((a, b) => a.guidance - b.guidance);
  const ss = rows.map((r) => r.guidance);
  const lo = Math.min(...ss);
  const hi = Math.max(...ss);
  const xAt = (s: number) => (hi > lo ? left + 20 + ((s - lo) / (hi - lo)) * (plotW - 40) : left + plotW / 2);
  const all = rows.flatMap((r) => report.modes.flatMap((m) => (r.modes[m] ? [r.modes[m].leakage.cider, r.modes[m].leakage.controlCider] : [])));
  const yMax = niceMax(Math.max(0, ...all));
  const yAt = (v: number) => top + h * (1 - Math.max(0, v) / yMax);
  const series = (m: string, get: (r: (typeof rows)[number]) => number | undefined) =>
    rows.flatMap((r) => {
      const v = get(r);
      return v === undefined ? [] : [{ s: r.guidance, v }];
    });
  return (
    <svg
      viewBox={`0 0 ${width} ${height}`}
      width={width}
      height={height}
      fontFamily={FONT}
      role="img"
      aria-label="leak CIDEr-D over guidance s"
      data-testid="leakage-chart"
    >
      <rect width={width} height={height} fill="#ffffff" />
      <text x={left} y={16} fontSize={13} fontWeight={600} fill="#222">
        Leakage · {report.suite.name} · {report.task} · leak CIDEr-D vs s
      </text>
      <g>
        {report.modes.map((m, i) => (
          <g key={m} transform={`translate(${left + i * 110}, 32)`}>
            <line x1={0} x2={16} y1={-4} y2={-4} stroke={modeColour(m, i)} strokeWidth={2} />
            <text x={20} fontSize={11} fill="#333">
              {m}
            </text>
          </g>
        ))}
        <g transform={`translate(${left + report.modes.length * 110}, 32)`}>
          <line x1={0} x2={16} y1={-4} y2={-4} stroke="#555" strokeWidth={2} strokeDasharray="4 3" />
          <text x={20} fontSize={11} fill="#333">
            empty-prompt control
          </text>
        </g>
      </g>
      {[0, 0.25, 0.5, 0.75, 1].map((f) => (
        <g key={f}>
          <line x1={left} x2={left + plotW} y1={top + h * (1 - f)} y2={top + h * (1 - f)} stroke={f === 0 ? '#888' : '#e3e3e3'} />
          <text x={left - 4} y={top + h * (1 - f) + 4} fontSize={10} fill="#555" textAnchor="end">
            {fmt(f * yMax)}
          </text>
        </g>
      ))}
      {ss.map((s) => (
        <text key={s} x={xAt(s)} y={top + h + 18} fontSize={11} fill="#333" textAnchor="middle">
          {s}
        </text>
      ))}
      <text x={left + plotW / 2} y={top + h + 36} fontSize={11} fill="#555" textAnchor="middle">
        guidance s
      </text>
      {report.modes.map((m, mi) => {
        const colour = modeColour(m, mi);
        const leak = series(m, (r) => r.modes[m]?.leakage.cider);
        const ctrl = series(m, (r) => r.modes[m]?.leakage.controlCider);
        const line = (pts: typeof leak) => pts.map((p) => `${xAt(p.s)},${yAt(p.v)}`).join(' ');
        return (
          <g key={m} data-mode={m}>
            {ctrl.length > 1 ? (
              <polyline className="control" points={line(ctrl)} fill="none" stroke={colour} strokeWidth={1.5} strokeDasharray="5 4" opacity={0.8} />
            ) : (
              ctrl.map((p) => (
                <line
                  key={p.s}
                  className="control"
                  x1={xAt(p.s) - 14}
                  x2={xAt(p.s) + 14}
                  y1={yAt(p.v)}
                  y2={yAt(p.v)}
                  stroke={colour}
                  strokeWidth={1.5}
                  strokeDasharray="5 4"
                />
              ))
            )}
            {leak.length > 1 && <polyline className="leak" points={line(leak)} fill="none" stroke={colour} strokeWidth={2} />}
            {leak.map((p) => (
              <circle key={p.s} className="point" cx={xAt(p.s)} cy={yAt(p.v)} r={3.5} fill={colour}>
                <title>{`${m} · s=${p.s}: leak CIDEr-D ${fmt(p.v)} (control ${fmt(ctrl.find((c) => c.s === p.s)?.v ?? 0)})`}</title>
              </circle>
            ))}
          </g>
        );
      })}
    </svg>
  );
}
