/**
 * The Eval view's "Leakage probe" (DESIGN.md §1.5, `twinlens leakage`): on
 * the suite picked in the side panel, every mode that reads diffusion
 * features answers each item with (a) the matched SD prompt, (b) an empty
 * prompt and (c) another item's prompt, per guidance s. Pick the task (qa or
 * caption), the guidance list and a limit; run with progress and stop; read
 * the leak CIDEr-D against s per mode (empty-prompt control dashed) and a
 * table of matched / empty / mismatched scores and the matched − empty gap
 * per mode and s; export the report as JSON (the `--json` document) and
 * the chart as PNG.
 */
import { useEffect, useRef, useState } from 'react';
import type { EngineEvent, LeakageCell } from '../../../shared/contract.js';
import type { Bridge } from '../../bridge/index.js';
import { downloadBytes, svgToPng } from '../../lib/download.js';
import { formatMs } from '../../lib/format.js';
import { loadJson, saveJson } from '../../lib/persist.js';
import { useLeakage } from '../../state/use-leakage.js';
import { modeColour } from './charts.js';
import { LeakageLines } from './leakage-chart.js';

interface Props {
  bridge: Bridge;
  /** The suite picked in the side panel (built-in name or path). */
  suite: string;
  /** Answer length limit from the side panel, if set. */
  maxTokens?: number;
  enabled: boolean;
  onEvent(e: EngineEvent): void;
  notify(level: 'info' | 'error', message: string): void;
}

interface Form {
  task: 'qa' | 'caption';
  guidance: string;
  limit: string;
}

const DEFAULTS: Form = { task: 'qa', guidance: '1, 1.5, 4', limit: '' };

/** "1, 1.5, 4" → [1, 1.5, 4]; undefined when empty or not numbers in [-20, 50]. */
export function parseGuidance(text: string): number[] | undefined {
  const parts = text
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  if (!parts.length) return undefined;
  const xs = parts.map(Number);
  if (xs.some((x) => !Number.isFinite(x) || x < -20 || x > 50)) return undefined;
  return [...new Set(xs)];
}

const f2 = (v: number) => v.toFixed(2);
const pct = (v: number) => `${Math.round(v * 100)}%`;
const signed = (v: number, f: (x: number) => string) => (v > 0 ? `+${f(v)}` : f(v));

export function LeakageProbe({ bridge, suite, maxTokens, enabled, onEvent, notify }: Props) {
  const lk = useLeakage(bridge, onEvent);
  const [form, setForm] = useState<Form>(() => ({ ...DEFAULTS, ...loadJson<Partial<Form>>('leakage-form.v1', {}) }));
  const chart = useRef<HTMLDivElement>(null);
  const update = (patch: Partial<Form>) => setForm((f) => ({ ...f, ...patch }));
  useEffect(() => {
    saveJson('leakage-form.v1', form);
  }, [form]);

  const guidance = parseGuidance(form.guidance);
  const limit = Number(form.limit);
  const limitOk = !form.limit.trim() || (Number.isInteger(limit) && limit >= 2);
  const running = lk.status === 'running' || lk.status === 'stopping';
  const canRun = enabled && !!suite && !!guidance && limitOk && !running;

  const start = () => {
    if (!guidance) return;
    void lk.run({
      suite,
      guidance,
      task: form.task,
      ...(form.limit.trim() ? { limit } : {}),
      ...(maxTokens ? { generation: { maxTokens } } : {}),
    });
  };

  const r = lk.report;
  const base = r ? `${r.suite.name}_${r.pack.name}_leakage` : 'leakage';
  const exportPng = async () => {
    const svg = chart.current?.querySelector('svg');
    if (!svg) return;
    try {
      downloadBytes(`${base}.png`, await svgToPng(svg), 'image/png');
    } catch (e) {
      notify('error', `PNG export failed: ${(e as Error).message}`);
    }
  };
  const p = lk.progress;
  const rows = r ? [...r.rows].sort((a, b) => a.guidance - b.guidance) : [];

  return (
    <section className="leakage-probe" data-testid="leakage-probe" data-status={lk.status}>
      <h3>Leakage probe</h3>
      <p className="muted small">
        Does an answer come from the image or from the SD prompt leaking through the diffusion features? Each mode that reads them answers with the matched
        prompt, an empty prompt and another item’s prompt, per guidance s; leak CIDEr-D scores the mismatched-prompt answers against that prompt, the dashed
        control scores the empty-prompt answers against it.
      </p>
      <div className="leakage-controls">
        <label
          className="field small"
          title="qa: ask the item's question, prompts = questions; caption: ask for a caption, prompts = the items' captions (the study's test)"
        >
          Task
          <select value={form.task} onChange={(e) => update({ task: e.currentTarget.value as Form['task'] })} data-testid="leakage-task">
            <option value="qa">qa</option>
            <option value="caption">caption</option>
          </select>
        </label>
        <label className="field small" title="Guidance scales s, comma-separated">
          Guidance s
          <input
            type="text"
            value={form.guidance}
            onChange={(e) => update({ guidance: e.currentTarget.value })}
            aria-invalid={!guidance}
            data-testid="leakage-guidance"
          />
        </label>
        <label className="field small" title="Only the first N items (at least 2)">
          Limit
          <input
            type="number"
            min={2}
            value={form.limit}
            placeholder="all"
            onChange={(e) => update({ limit: e.currentTarget.value })}
            aria-invalid={!limitOk}
            data-testid="leakage-limit"
          />
        </label>
        <button type="button" className="primary" disabled={!canRun} onClick={start} data-testid="leakage-run">
          Run probe
        </button>
        <button type="button" disabled={!running} onClick={lk.stop} data-testid="leakage-stop">
          {lk.status === 'stopping' ? 'Stopping…' : 'Stop'}
        </button>
        {r && (
          <>
            <button
              type="button"
              onClick={() => downloadBytes(`${base}.json`, JSON.stringify(r, null, 2), 'application/json')}
              data-testid="leakage-export-json"
            >
              JSON
            </button>
            <button type="button" onClick={() => void exportPng()} data-testid="leakage-export-png">
              PNG
            </button>
          </>
        )}
      </div>
      {!guidance && <p className="error-text small">Guidance: numbers in [−20, 50], comma-separated.</p>}
      {!limitOk && <p className="error-text small">Limit: a whole number ≥ 2 (the mismatched prompt comes from another item).</p>}
      {(running || p) && (
        <div className="eval-progress" data-testid="leakage-progress">
          <progress max={Math.max(1, p?.total ?? 1)} value={p?.done ?? 0} />
          <span className="small">
            {p ? `${p.done} / ${p.total} asks` : 'starting…'}
            {running && p?.etaMs !== undefined ? ` · ETA ${formatMs(p.etaMs)}` : ''}
            {!running && lk.status === 'stopped' ? ' · stopped' : ''}
          </span>
        </div>
      )}
      {lk.error && (
        <p className="error-text small" data-testid="leakage-error">
          {lk.error}
        </p>
      )}
      {r && (
        <>
          <span className="small" data-testid="leakage-summary">
            {r.suite.name} · {r.pack.name} · {r.task} task · {r.evaluated} items{r.complete ? '' : ' · incomplete'}
            {lk.ms !== undefined ? ` · ${formatMs(lk.ms)}` : ''}
          </span>
          <div className="eval-charts" ref={chart}>
            {r.evaluated > 0 ? <LeakageLines report={r} /> : <p className="muted small">No item finished: nothing to chart.</p>}
          </div>
          <table className="eval-table" data-testid="leakage-table">
            <thead>
              <tr>
                <th>mode</th>
                <th>s</th>
                <th title="accuracy vs the reference: matched / empty / mismatched prompt">accuracy a / b / c</th>
                <th title="matched − empty accuracy">gap</th>
                <th title="CIDEr-D vs the reference: matched / empty / mismatched prompt">CIDEr-D a / b / c</th>
                <th title="matched − empty CIDEr-D">gap</th>
                <th title="mismatched-prompt answers vs the mismatched prompt">leak CIDEr-D</th>
                <th title="empty-prompt answers vs the mismatched prompt">control</th>
                <th title="leak − control">excess</th>
                <th title="mismatched-prompt answers vs the mismatched prompt, token F1">leak F1</th>
              </tr>
            </thead>
            <tbody>
              {r.modes.flatMap((m, mi) =>
                rows.map((row) => {
                  const c: LeakageCell | undefined = row.modes[m];
                  if (!c) return null;
                  return (
                    <tr key={`${m}/${row.guidance}`} data-testid="leakage-row" data-mode={m} data-guidance={row.guidance}>
                      <td style={{ color: modeColour(m, mi) }}>{m}</td>
                      <td>{row.guidance}</td>
                      <td>
                        {pct(c.matched.accuracy.accuracy)} / {pct(c.empty.accuracy.accuracy)} / {pct(c.mismatched.accuracy.accuracy)}
                      </td>
                      <td>{signed(Math.round(c.gap.accuracy * 100), String)} pt</td>
                      <td>
                        {f2(c.matched.cider)} / {f2(c.empty.cider)} / {f2(c.mismatched.cider)}
                      </td>
                      <td>{signed(c.gap.cider, f2)}</td>
                      <td>{f2(c.leakage.cider)}</td>
                      <td>{f2(c.leakage.controlCider)}</td>
                      <td>{signed(c.leakage.excessCider, f2)}</td>
                      <td>{f2(c.leakage.f1)}</td>
                    </tr>
                  );
                }),
              )}
            </tbody>
          </table>
          <p className="muted small">{r.metric}</p>
        </>
      )}
    </section>
  );
}
