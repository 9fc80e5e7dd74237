/**
 * Hand-drawn SVG charts for the Eval view, self-contained (literal colours,
 * a white background, inline font) so the same element exports as SVG or
 * PNG: accuracy per mode and category with 95 % CI whiskers, and a sweep as
 * one line per mode over the swept values (with CI bands).
 */
import type { EvalScore, EvalSettingScore } from '../../../shared/contract.js';

const PALETTE = ['#1c7ed6', '#d9480f', '#7048e8', '#2b8a3e', '#e67700', '#c2255c', '#0b7285', '#5c940d'];
const NAMED: Record<string, string> = { clip: '#1c7ed6', diffusion: '#d9480f', fused: '#7048e8' };
const FONT = 'system-ui, -apple-system, Segoe UI, Roboto, Arial, sans-serif';

export function modeColour(mode: string, i: number): string {
  return NAMED[mode] ?? PALETTE[i % PALETTE.length];
}

const pct = (v: number) => `${Math.round(v * 100)}%`;

function Legend({ modes, x, y }: { modes: string[]; x: number; y: number }) {
  return (
    <g>
      {modes.map((m, i) => (
        <g key={m} transform={`translate(${x + i * 110}, ${y})`}>
          <rect width={10} height={10} y={-9} fill={modeColour(m, i)} />
          <text x={14} fontSize={11} fill="#333">
            {m}
          </text>
        </g>
      ))}
    </g>
  );
}

function YAxis({ x, top, h, width }: { x: number; top: number; h: number; width: number }) {
  return (
    <g>
      {[0, 0.25, 0.5, 0.75, 1].map((v) => (
        <g key={v}>
          <line x1={x} x2={x + width} y1={top + h * (1 - v)} y2={top + h * (1 - v)} stroke={v === 0 ? '#888' : '#e3e3e3'} />
          <text x={x - 4} y={top + h * (1 - v) + 4} fontSize={10} fill="#555" textAnchor="end">
            {pct(v)}
          </text>
        </g>
      ))}
    </g>
  );
}

interface BarProps {
  setting: EvalSettingScore;
  modes: string[];
  title: string;
}

/** Groups: all items, pairs (when the suite has pairs), then each category; one bar per mode with its CI whisker. */
export function AccuracyBars({ setting, modes, title }: BarProps) {
  const first = setting.modes[modes[0]];
  const categories = first ? Object.keys(first.categories).sort() : [];
  const hasPairs = modes.some((m) => setting.modes[m]?.pairs);
  const groups: Array<{ label: string; get: (m: string) => EvalScore | undefined }> = [
    { label: 'all', get: (m) => setting.modes[m] },
    ...(hasPairs ? [{ label: 'pairs', get: (m: string) => setting.modes[m]?.pairs }] : []),
    ...categories.map((c) => ({ label: c, get: (m: string) => setting.modes[m]?.categories[c] })),
  ];
  const left = 44;
  const top = 34;
  const h = 180;
  const bar = Math.max(8, Math.min(26, Math.floor(260 / Math.max(1, modes.length * 2))));
  const groupW = modes.length * bar + 18;
  const width = Math.max(420, left + groups.length * groupW + 20);
  const height = top + h + 44;
  return (
    <svg viewBox={`0 0 ${width} ${height}`} width={width} height={height} fontFamily={FONT} role="img" aria-label={title} data-testid="accuracy-chart">
      <rect width={width} height={height} fill="#ffffff" />
      <text x={left} y={16} fontSize={13} fontWeight={600} fill="#222">
        {title}
      </text>
      <Legend modes={modes} x={left} y={30} />
      <YAxis x={left} top={top + 6} h={h} width={width - left - 10} />
      {groups.map((g, gi) => {
        const gx = left + 10 + gi * groupW;
        return (
          <g key={g.label} data-group={g.label}>
            {modes.map((m, mi) => {
              const s = g.get(m);
              if (!s) return null;
              const x = gx + mi * bar;
              const y = top + 6 + h * (1 - s.accuracy);
              const [lo, hi] = s.ci95;
              const cx = x + bar / 2 - 1;
              return (
                <g key={m} className="bar" data-mode={m}>
                  <rect x={x} y={y} width={bar - 2} height={h * s.accuracy} fill={modeColour(m, mi)} opacity={0.85}>
                    <title>{`${m} · ${g.label}: ${s.correct}/${s.n} = ${pct(s.accuracy)} (95 % CI ${pct(lo)}–${pct(hi)})`}</title>
                  </rect>
                  <line x1={cx} x2={cx} y1={top + 6 + h * (1 - hi)} y2={top + 6 + h * (1 - lo)} stroke="#222" />
                  <line x1={cx - 3} x2={cx + 3} y1={top + 6 + h * (1 - hi)} y2={top + 6 + h * (1 - hi)} stroke="#222" />
                  <line x1={cx - 3} x2={cx + 3} y1={top + 6 + h * (1 - lo)} y2={top + 6 + h * (1 - lo)} stroke="#222" />
                </g>
              );
            })}
            <text x={gx + (modes.length * bar) / 2} y={top + h + 22} fontSize={11} fill="#333" textAnchor="middle">
              {g.label}
            </text>
            <text x={gx + (modes.length * bar) / 2} y={top + h + 36} fontSize={9} fill="#777" textAnchor="middle">
              n={g.get(modes[0])?.n ?? 0}
            </text>
          </g>
        );
      })}
    </svg>
  );
}

interface LineProps {
  results: EvalSettingScore[];
  modes: string[];
  sweepKey: string;
  values: Array<string | number>;
}

/** Accuracy per mode over the swept values (x evenly spaced in sweep order), with the 95 % CI as a band. */
export function SweepLines({ results, modes, sweepKey, values }: LineProps) {
  const left = 44;
  const top = 34;
  const h = 180;
  const step = Math.max(60, Math.min(120, 520 / Math.max(1, values.length - 1)));
  const width = Math.max(420, left + 30 + step * Math.max(1, values.length - 1) + 40);
  const height = top + h + 40;
  const xAt = (i: number) => left + 30 + i * step;
  const yAt = (v: number) => top + 6 + h * (1 - v);
  return (
    <svg
      viewBox={`0 0 ${width} ${height}`}
      width={width}
      height={height}
      fontFamily={FONT}
      role="img"
      aria-label={`accuracy over ${sweepKey}`}
      data-testid="sweep-chart"
    >
      <rect width={width} height={height} fill="#ffffff" />
      <text x={left} y={16} fontSize={13} fontWeight={600} fill="#222">
        Accuracy over {sweepKey}
      </text>
      <Legend modes={modes} x={left} y={30} />
      <YAxis x={left} top={top + 6} h={h} width={width - left - 10} />
      {values.map((v, i) => (
        <text key={String(v)} x={xAt(i)} y={top + h + 24} fontSize={11} fill="#333" textAnchor="middle">
          {sweepKey}={String(v)}
        </text>
      ))}
      {modes.map((m, mi) => {
        const pts = results.map((r, i) => ({ i, s: r.modes[m] })).filter((p) => p.s);
        if (!pts.length) return null;
        const colour = modeColour(m, mi);
        const band = [...pts.map((p) => `${xAt(p.i)},${yAt(p.s!.ci95[1])}`), ...[...pts].reverse().map((p) => `${xAt(p.i)},${yAt(p.s!.ci95[0])}`)].join(' ');
        return (
          <g key={m} data-mode={m}>
            <polygon points={band} fill={colour} opacity={0.12} />
            <polyline points={pts.map((p) => `${xAt(p.i)},${yAt(p.s!.accuracy)}`).join(' ')} fill="none" stroke={colour} strokeWidth={2} />
            {pts.map((p) => (
              <circle key={p.i} cx={xAt(p.i)} cy={yAt(p.s!.accuracy)} r={3.5} fill={colour}>
                <title>{`${m} · ${sweepKey}=${values[p.i]}: ${p.s!.correct}/${p.s!.n} = ${pct(p.s!.accuracy)}`}</title>
              </circle>
            ))}
          </g>
        );
      })}
    </svg>
  );
}
