/**
 * The Eval view: pick a suite (the open pack's built-in suites, or a path
 * on the engine's machine), the modes, an optional sweep and a limit; run
 * it with live progress (ETA, running accuracy) and stop it; then read a
 * bar chart of accuracy per mode and category with 95 % CI whiskers, the
 * sweep as a line chart, and the items where the modes disagree with their
 * images; export the scores and items as CSV, the summary as JSON (the
 * `twinlens eval --json` document) and the charts as PNG. Below, the
 * leakage probe on the same suite (LeakageProbe.tsx).
 */
import { useEffect, useMemo, useRef, useState } from 'react';
import type { EngineEvent, EvalItemResult, EvaluateParams, PackInfo, SuiteList } from '../../../shared/contract.js';
import type { Bridge } from '../../bridge/index.js';
import { BrowseButton } from '../BrowseButton.js';
import { downloadBytes, svgToPng } from '../../lib/download.js';
import { itemsCsv, scoresCsv } from '../../lib/eval-export.js';
import { formatMs } from '../../lib/format.js';
import { loadJson, removeKey, saveJson } from '../../lib/persist.js';
import { useEvaluate } from '../../state/use-evaluate.js';
import { AccuracyBars, SweepLines, modeColour } from './charts.js';
import { LeakageProbe } from './LeakageProbe.js';

interface Props {
  /** Hidden, not unmounted, while another view shows: a run keeps going. */
  hidden?: boolean;
  bridge: Bridge;
  pack: PackInfo | undefined;
  onEvent(e: EngineEvent): void;
  notify(level: 'info' | 'error', message: string): void;
}

const LAST_RUN_KEY = 'evalLastRun.v1';
const SWEEPS = ['', 't=10,50,100,250,500', 'guidance=0,1,4', 'prompt=question,empty'];

interface Form {
  suite: string;
  path: string;
  modes: string[] | null;
  sweep: string;
  limit: string;
  maxTokens: string;
}

const EMPTY: Form = { suite: '', path: '', modes: null, sweep: '', limit: '', maxTokens: '8' };

function disagree(it: EvalItemResult): boolean {
  const a = Object.values(it.answers);
  return a.length > 1 && (new Set(a.map((x) => x.correct)).size > 1 || new Set(a.map((x) => x.text.trim().toLowerCase())).size > 1);
}

export function EvalView({ hidden, bridge, pack, onEvent, notify }: Props) {
  const ev = useEvaluate(bridge, onEvent);
  const [suites, setSuites] = useState<SuiteList>();
  const [form, setForm] = useState<Form>(() => ({ ...EMPTY, ...loadJson<Partial<Form>>('eval-form.v1', {}) }));
  const [settingIdx, setSettingIdx] = useState(0);
  const [onlyDisagree, setOnlyDisagree] = useState(true);
  const bars = useRef<HTMLDivElement>(null);
  const update = (patch: Partial<Form>) => setForm((f) => ({ ...f, ...patch }));

  useEffect(() => {
    saveJson('eval-form.v1', form);
  }, [form]);
  useEffect(() => {
    if (!pack) return;
    bridge.call('listSuites', {}).then(setSuites, () => setSuites({ builtIn: [] }));
  }, [bridge, pack?.dir]);

  const available = useMemo(() => (pack?.modes ?? []).filter((m) => m.available), [pack]);
  const chosenModes = form.modes ?? available.filter((m) => !m.extra).map((m) => m.id);
  const suiteSpec = form.suite === '__path__' || (!form.suite && !suites?.builtIn.length) ? form.path.trim() : form.suite || suites?.builtIn[0]?.name || '';
  const running = ev.status === 'running' || ev.status === 'stopping';
  const canRun = !!pack && !!suiteSpec && chosenModes.length > 0 && !running;

  // The last run's parameters, kept until it completes: Resume continues its journal in the engine
  // (after Stop, an engine crash, or a restart of the app), as `twinlens eval --out` does.
  const [interrupted, setInterrupted] = useState<EvaluateParams | undefined>(() => loadJson<EvaluateParams | undefined>(LAST_RUN_KEY, undefined));
  const launch = (params: EvaluateParams) => {
    setSettingIdx(0);
    saveJson(LAST_RUN_KEY, params);
    setInterrupted(undefined);
    void ev.run(params);
  };
  useEffect(() => {
    if (ev.status === 'running' || ev.status === 'stopping' || ev.status === 'idle') return;
    const last = loadJson<EvaluateParams | undefined>(LAST_RUN_KEY, undefined);
    if (ev.result?.complete) removeKey(LAST_RUN_KEY);
    else if (last) setInterrupted(last);
  }, [ev.status, ev.result]);
  const start = () => {
    const limit = Number(form.limit);
    const maxTokens = Number(form.maxTokens);
    launch({
      suite: suiteSpec,
      modes: chosenModes,
      ...(form.sweep.trim() ? { sweep: form.sweep.trim() } : {}),
      ...(form.limit.trim() && limit >= 1 ? { limit: Math.floor(limit) } : {}),
      generation: form.maxTokens.trim() && maxTokens >= 1 ? { maxTokens: Math.floor(maxTokens) } : {},
    });
  };

  const r = ev.result;
  const summary = r?.summary;
  const setting = summary?.results[Math.min(settingIdx, (summary?.results.length ?? 1) - 1)];
  const items = (summary?.items ?? []).filter((it) => it.setting === setting?.setting && (!onlyDisagree || disagree(it)));
  const thumbUrls = useMemo(
    () =>
      Object.fromEntries(Object.entries(r?.thumbnails ?? {}).map(([k, png]) => [k, URL.createObjectURL(new Blob([png as BlobPart], { type: 'image/png' }))])),
    [r],
  );
  useEffect(() => () => Object.values(thumbUrls).forEach((u) => URL.revokeObjectURL(u)), [thumbUrls]);
  const base = summary ? `${summary.suite.name}_${summary.pack.name}` : 'eval';

  const exportPng = async () => {
    const svgs = [...(bars.current?.querySelectorAll('svg') ?? [])] as SVGSVGElement[];
    try {
      for (const [i, svg] of svgs.entries()) downloadBytes(`${base}_${svg.dataset.testid ?? `chart-${i}`}.png`, await svgToPng(svg), 'image/png');
    } catch (e) {
      notify('error', `PNG export failed: ${(e as Error).message}`);
    }
  };

  const p = ev.progress;
  return (
    <main className="eval-view" data-testid="eval-view" data-status={ev.status} hidden={hidden}>
      <aside className="eval-side">
        <label className="field small">
          Suite
          <select
            value={form.suite || (suites?.builtIn.length ? suites.builtIn[0].name : '__path__')}
            onChange={(e) => update({ suite: e.currentTarget.value })}
            data-testid="eval-suite"
          >
            {suites?.builtIn.map((s) => (
              <option key={s.name} value={s.name} title={s.path}>
                {s.name}
              </option>
            ))}
            <option value="__path__">a file on the engine’s machine…</option>
          </select>
        </label>
        {(form.suite === '__path__' || !suites?.builtIn.length) && (
          <label className="field small">
            Suite path (.jsonl, MMVP Questions.csv or its folder)
            <span className="row-2">
              <input
                type="text"
                value={form.path}
                onChange={(e) => update({ path: e.currentTarget.value })}
                placeholder="/data/mmvp/Questions.csv"
                data-testid="eval-suite-path"
              />
              <BrowseButton
                bridge={bridge}
                kind="file"
                title="Choose a suite file"
                filters={[{ name: 'Suites', extensions: ['jsonl', 'csv', 'json'] }]}
                onPick={(path) => update({ path })}
                testId="eval-suite-browse"
              />
            </span>
          </label>
        )}
        {suites && !suites.builtIn.length && <p className="muted small">This pack ships no built-in suites (no suites/ folder).</p>}
        <fieldset className="field small eval-modes">
          <legend>Modes</legend>
          {available.map((m) => (
            <label key={m.id} className="toggle" title={m.description}>
              <input
                type="checkbox"
                checked={chosenModes.includes(m.id)}
                data-testid={`eval-mode-${m.id}`}
                onChange={(e) => {
                  const on = e.currentTarget.checked;
                  update({ modes: on ? [...chosenModes, m.id] : chosenModes.filter((x) => x !== m.id) });
                }}
              />
              {m.label} {m.extra && <span className="muted">(extra)</span>}
            </label>
          ))}
        </fieldset>
        <label className="field small" title="One diffusion setting over several values, as `twinlens eval --sweep`">
          Sweep
          <select
            value={SWEEPS.includes(form.sweep) ? form.sweep : '__custom__'}
            onChange={(e) => update({ sweep: e.currentTarget.value === '__custom__' ? 'tap=' : e.currentTarget.value })}
            data-testid="eval-sweep"
          >
            {SWEEPS.map((s) => (
              <option key={s} value={s}>
                {s || 'none'}
              </option>
            ))}
            <option value="__custom__">custom…</option>
          </select>
        </label>
        {!SWEEPS.includes(form.sweep) && (
          <input
            type="text"
            value={form.sweep}
            onChange={(e) => update({ sweep: e.currentTarget.value })}
            placeholder="key=v1,v2 (t, guidance, tap, seed, ensemble, prompt)"
            data-testid="eval-sweep-custom"
          />
        )}
        <div className="row-2">
          <label className="field small">
            Limit
            <input
              type="number"
              min={1}
              value={form.limit}
              placeholder="all"
              onChange={(e) => update({ limit: e.currentTarget.value })}
              data-testid="eval-limit"
            />
          </label>
          <label className="field small" title="Answer length limit: short answers need 8–16 tokens">
            Max tokens
            <input
              type="number"
              min={1}
              value={form.maxTokens}
              placeholder="auto"
              onChange={(e) => update({ maxTokens: e.currentTarget.value })}
              data-testid="eval-max-tokens"
            />
          </label>
        </div>
        <div className="row-2">
          <button type="button" className="primary" disabled={!canRun} onClick={start} data-testid="eval-run">
            Run
          </button>
          <button type="button" disabled={!running} onClick={ev.stop} data-testid="eval-stop">
            {ev.status === 'stopping' ? 'Stopping…' : 'Stop'}
          </button>
        </div>
        {interrupted && !running && !!pack && (
          <div className="row-2">
            <button
              type="button"
              onClick={() => launch({ ...interrupted, resume: true })}
              title={`Continue the interrupted run of ${interrupted.suite} after its last finished item`}
              data-testid="eval-resume"
            >
              Resume the interrupted run
            </button>
            <span className="small muted">{interrupted.suite.split(/[\\/]/).pop()}</span>
          </div>
        )}
        {(running || p) && (
          <div className="eval-progress" data-testid="eval-progress">
            <progress max={Math.max(1, p?.total ?? 1)} value={p?.done ?? 0} />
            <span className="small">
              {p ? `${p.done} / ${p.total}` : 'starting…'}
              {running && p?.etaMs !== undefined ? ` · ETA ${formatMs(p.etaMs)}` : ''}
              {!running && ev.status === 'stopped' ? ' · stopped' : ''}
            </span>
            {p && (
              <span className="small muted">
                {Object.entries(p.running)
                  .map(([m, x]) => `${m} ${x.n ? Math.round((100 * x.correct) / x.n) : 0}%`)
                  .join(' · ')}
              </span>
            )}
          </div>
        )}
        {ev.error && (
          <p className="error-text small" data-testid="eval-error">
            {ev.error}
          </p>
        )}
      </aside>
      <section className="eval-main">
        {!summary && !running && (
          <p className="muted">
            Pick a suite and run it: accuracy per mode and category (95 % CI), pair accuracy, sweeps, and the items where the modes disagree.
          </p>
        )}
        {summary && setting && (
          <>
            <div className="features-toolbar">
              <span className="small" data-testid="eval-summary">
                {summary.suite.name} · {summary.pack.name} · {summary.evaluated} items{summary.complete ? '' : ` · incomplete (${summary.missing} missing)`}
                {r!.resumed ? ` · ${r!.resumed} resumed` : ''} · {formatMs(r!.ms)}
              </span>
              {summary.results.length > 1 && (
                <select value={settingIdx} onChange={(e) => setSettingIdx(Number(e.currentTarget.value))} aria-label="setting" data-testid="eval-setting">
                  {summary.results.map((x, i) => (
                    <option key={x.setting} value={i}>
                      {x.setting}
                    </option>
                  ))}
                </select>
              )}
              <span className="grow" />
              <button type="button" onClick={() => downloadBytes(`${base}_scores.csv`, scoresCsv(summary), 'text/csv')} data-testid="eval-export-csv">
                CSV
              </button>
              <button type="button" onClick={() => downloadBytes(`${base}_items.csv`, itemsCsv(summary), 'text/csv')} data-testid="eval-export-items">
                Items CSV
              </button>
              <button
                type="button"
                onClick={() => downloadBytes(`${base}.json`, JSON.stringify(summary, null, 2), 'application/json')}
                data-testid="eval-export-json"
              >
                JSON
              </button>
              <button type="button" onClick={() => void exportPng()} data-testid="eval-export-png">
                PNG
              </button>
            </div>
            <div className="eval-charts" ref={bars}>
              <AccuracyBars setting={setting} modes={summary.modes} title={`Accuracy · ${summary.suite.name} · ${setting.setting}`} />
              {summary.sweep && <SweepLines results={summary.results} modes={summary.modes} sweepKey={summary.sweep.key} values={summary.sweep.values} />}
            </div>
            <section className="eval-items">
              <h3>
                Items {onlyDisagree ? 'where the modes disagree' : ''} <span className="muted small">({items.length})</span>{' '}
                <label className="toggle small">
                  <input type="checkbox" checked={onlyDisagree} onChange={(e) => setOnlyDisagree(e.currentTarget.checked)} /> only disagreements
                </label>
              </h3>
              <table className="eval-table" data-testid="eval-items">
                <thead>
                  <tr>
                    <th>image</th>
                    <th>question</th>
                    <th>reference</th>
                    {summary.modes.map((m, i) => (
                      <th key={m} style={{ color: modeColour(m, i) }}>
                        {m}
                      </th>
                    ))}
                  </tr>
                </thead>
                <tbody>
                  {items.map((it) => (
                    <tr key={`${it.setting}/${it.id}`} data-testid="eval-item">
                      <td>
                        {thumbUrls[it.image] ? (
                          <img className="thumb" src={thumbUrls[it.image]} alt={it.image} title={it.image} />
                        ) : (
                          <span className="muted small">{it.image}</span>
                        )}
                      </td>
                      <td>
                        {it.question}
                        <div className="muted small">
                          {it.id}
                          {it.category ? ` · ${it.category}` : ''}
                          {it.pair ? ` · pair ${it.pair}` : ''}
                        </div>
                      </td>
                      <td>{it.answer}</td>
                      {summary.modes.map((m) => {
                        const a = it.answers[m];
                        return (
                          <td key={m} className={a?.correct ? 'ok' : 'wrong'} title={a?.error ?? `rule: ${a?.rule}`}>
                            {a ? `${a.correct ? '✓' : '✗'} ${a.error ? 'error' : a.text}` : '–'}
                          </td>
                        );
                      })}
                    </tr>
                  ))}
                </tbody>
              </table>
            </section>
          </>
        )}
        <LeakageProbe
          bridge={bridge}
          suite={suiteSpec}
          maxTokens={form.maxTokens.trim() && Number(form.maxTokens) >= 1 ? Math.floor(Number(form.maxTokens)) : undefined}
          enabled={!!pack && !running}
          onEvent={onEvent}
          notify={notify}
        />
      </section>
    </main>
  );
}
