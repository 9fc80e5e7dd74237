/**
 * The renderer's main thread during real work (web mode, real engine, tiny
 * pack): an answered question in every mode with the attention strip, the
 * Features view's maps and an evaluation.
 *
 * Long Tasks (≥ 50 ms on the main thread) are read from Chromium's own trace
 * (CDP Tracing, the `RunTask` events of the page's main thread): this headless
 * Chromium reports no `longtask` performance entries, and a page heartbeat
 * could not tell the app's work from the test's. A profile showed that most
 * blocks a heartbeat saw were Playwright's: every DevTools command it sends
 * (an expect() poll that builds an ARIA snapshot, an actionability check)
 * runs on the page's main thread. The trace says which task dispatched a
 * DevTools command, so those are counted apart, and it gives each task's
 * thread time beside its wall time, so a descheduled thread on a loaded
 * machine does not read as the app's work.
 *
 * The test fails when an app task takes more than 50 ms of main-thread time
 * (issue 15's goal) or more than 250 ms of wall time (a freeze however it
 * came), and prints every task ≥ 50 ms with its phase. A deliberate 120 ms
 * block in a timer first proves the trace sees app tasks.
 */
import type { CDPSession } from '@playwright/test';
import { SAMPLE_IMAGE, answerModes, ask, expect, expectAllDone, openSample, test, ROOT } from './fixtures.js';
import * as path from 'node:path';

const THREAD_BUDGET_MS = 50;
const WALL_BUDGET_MS = 250;

interface TraceEvent {
  name: string;
  cat: string;
  ph: string;
  pid: number;
  tid: number;
  ts: number;
  dur?: number;
  tdur?: number;
  args?: { name?: string; data?: { message?: string } };
}

interface MainTask {
  start: number;
  wallMs: number;
  threadMs: number;
  /** It dispatched a DevTools protocol command: the test's own work in the page. */
  harness: boolean;
  phase: string;
}

async function startTrace(cdp: CDPSession): Promise<() => Promise<TraceEvent[]>> {
  const events: TraceEvent[] = [];
  cdp.on('Tracing.dataCollected', (e) => events.push(...(e.value as unknown as TraceEvent[])));
  await cdp.send('Tracing.start', {
    categories: 'disabled-by-default-devtools.timeline,devtools,devtools.timeline',
    transferMode: 'ReportEvents',
  });
  return async () => {
    const done = new Promise((r) => cdp.once('Tracing.tracingComplete', r));
    await cdp.send('Tracing.end');
    await done;
    return events;
  };
}

/** The page's main-thread tasks of ≥ 20 ms, each with its phase (the last console.timeStamp before it). */
function longTasks(events: TraceEvent[]): MainTask[] {
  const mains = new Set(events.filter((e) => e.ph === 'M' && e.name === 'thread_name' && e.args?.name === 'CrRendererMain').map((e) => `${e.pid}:${e.tid}`));
  const byThread = new Map<string, TraceEvent[]>();
  for (const e of events) {
    const k = `${e.pid}:${e.tid}`;
    if (mains.has(k) && e.ph === 'X') byThread.set(k, [...(byThread.get(k) ?? []), e]);
  }
  // The page's renderer is the main thread that ran the most tasks (about:blank's ran a handful).
  const thread = [...byThread.values()].sort((a, b) => b.length - a.length)[0] ?? [];
  const commands = thread.filter((e) => e.name === 'DevToolsSession::DispatchProtocolCommand');
  const stamps = events
    .filter((e) => e.name === 'TimeStamp')
    .map((e) => [e.ts, e.args?.data?.message ?? ''] as const)
    .sort((a, b) => a[0] - b[0]);
  return thread
    .filter((e) => e.name === 'RunTask' && (e.dur ?? 0) >= 20_000)
    .map((t) => ({
      start: t.ts,
      wallMs: (t.dur ?? 0) / 1000,
      threadMs: (t.tdur ?? t.dur ?? 0) / 1000,
      harness: commands.some((c) => c.ts >= t.ts && c.ts <= t.ts + (t.dur ?? 0)),
      phase: [...stamps].reverse().find(([ts]) => ts <= t.ts)?.[1] ?? 'start',
    }));
}

const describe = (ts: MainTask[]) => ts.map((t) => `${t.phase} ${t.wallMs.toFixed(0)} ms (thread ${t.threadMs.toFixed(0)} ms)`).join(', ') || 'none';

test('the main thread is never blocked by the app for more than 50 ms while asking, drawing feature maps and evaluating', async ({ app }) => {
  test.setTimeout(120_000);
  const cdp = await app.context().newCDPSession(app);
  const stop = await startTrace(cdp);
  const mark = (name: string) => app.evaluate((n) => console.timeStamp(n), name);

  // The control: a 120 ms block in a timer task (not inside the DevTools command that schedules it). Its
  // wall time is 120 ms; its thread time is less on a loaded machine (the loop reads the wall clock).
  await mark('control');
  await app.evaluate(() => {
    setTimeout(() => {
      const t0 = performance.now();
      while (performance.now() - t0 < 120) {
        /* block the main thread */
      }
    }, 0);
  });
  await app.waitForTimeout(300);

  // Waits inside the measured window are a cheap predicate polled every 100 ms, so the test adds little
  // to the page's main thread (expect() builds an ARIA snapshot each time a poll fails).
  const settled = (testId: string, attr: string, values: string[]) =>
    app.waitForFunction(([id, a, vs]) => vs.includes(document.querySelector(`[data-testid="${id}"]`)?.getAttribute(a) ?? ''), [testId, attr, values] as const, {
      polling: 100,
      timeout: 60_000,
    });
  await mark('ask');
  await openSample(app);
  const modes = await answerModes(app);
  await ask(app, 'what colour is the circle');
  for (const m of modes) await settled(`answer-${m}`, 'data-status', ['done', 'error', 'stopped']);
  await expectAllDone(app, modes);

  await mark('features');
  await app.getByTestId('tab-features').click();
  await app.getByTestId('features-input-a').setInputFiles(SAMPLE_IMAGE);
  await settled('features-view', 'data-status', ['done', 'error']);
  await expect(app.getByTestId('features-view')).toHaveAttribute('data-status', 'done');
  await expect(app.getByTestId('panel-clip-pca-0')).toBeVisible();

  await mark('eval');
  await app.getByTestId('tab-eval').click();
  await app.getByTestId('eval-suite-path').fill(path.join(ROOT, 'test', 'fixtures', 'suites', 'tiny-shapes.jsonl'));
  await app.getByTestId('eval-max-tokens').fill('3');
  await app.getByTestId('eval-run').click();
  await settled('eval-view', 'data-status', ['done', 'error']);
  await expect(app.getByTestId('eval-view')).toHaveAttribute('data-status', 'done');
  await expect(app.getByTestId('eval-summary')).toBeVisible();
  await mark('end');
  await app.waitForTimeout(500); // the result's last frames

  const all = longTasks(await stop());
  const tasks = all.filter((t) => t.wallMs >= 50);
  const longest = all.filter((t) => t.phase !== 'control' && !t.harness).sort((a, b) => b.threadMs - a.threadMs)[0];
  const control = tasks.filter((t) => t.phase === 'control' && !t.harness && t.wallMs >= 100);
  const appTasks = tasks.filter((t) => t.phase !== 'control' && !t.harness);
  const harness = tasks.filter((t) => t.phase !== 'control' && t.harness);
  console.log(
    `main-thread tasks ≥ 50 ms — the app's: ${describe(appTasks)}; the test's own DevTools commands: ${describe(harness)}; the app's longest: ${longest ? describe([longest]) : 'none ≥ 20 ms'}`,
  );
  expect(control.length, 'the trace did not see the deliberate 120 ms block: it measures nothing here').toBe(1);
  expect(appTasks.filter((t) => t.threadMs > THREAD_BUDGET_MS || t.wallMs > WALL_BUDGET_MS).map((t) => describe([t]))).toEqual([]);
});
