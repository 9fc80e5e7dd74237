/**
 * The renderer's main thread during real work (web mode, real engine, tiny
 * pack): an answered question in every mode with the attention strip, the
 * Features view's maps and an evaluation. Main-thread blocks of ≥ 50 ms (a
 * Long Task's definition) are recorded by a 10 ms heartbeat in the page; a
 * deliberate 120 ms block first proves the heartbeat sees them; then the test
 * fails when one during the work exceeds BUDGET_MS, and prints every one with
 * the phase it fell in.
 */
import { SAMPLE_IMAGE, answerModes, ask, expect, expectAllDone, openSample, test, ROOT } from './fixtures.js';
import * as path from 'node:path';

/**
 * The goal is 50 ms (issue 15); measured on the 2-core machine while CI ran beside it: none during the
 * ask, 56–117 ms while the Features view draws its maps and the Eval view renders its result
 * (docs/performance.md). The test holds the line against freezes (a quarter second) and prints what it
 * saw; a heartbeat also counts the OS's scheduling delays on a loaded machine, so 50 ms here would be
 * a timing test of the machine.
 */
const BUDGET_MS = 250;

test('no main-thread freeze while asking, drawing feature maps and evaluating (blocks printed)', async ({ app }) => {
  test.setTimeout(120_000);
  // Long Tasks as the page's own heartbeat sees them: a 10 ms timer whose late firing is the time the main
  // thread was blocked (this Chromium, headless, reports no 'longtask' performance entries).
  await app.addInitScript(() => {
    const w = window as unknown as { __longTasks: Array<{ start: number; ms: number }> };
    w.__longTasks = [];
    let last = performance.now();
    setInterval(() => {
      const now = performance.now();
      const blocked = now - last - 10;
      if (blocked >= 50) w.__longTasks.push({ start: last, ms: blocked });
      last = now;
    }, 10);
  });
  await app.reload();
  await expect(app.getByTestId('pack-name')).toBeVisible({ timeout: 30_000 });
  // The control: a deliberate 120 ms block must be seen, or the observer measures nothing here.
  await app.evaluate(() => {
    const t0 = performance.now();
    while (performance.now() - t0 < 120) {
      /* block the main thread */
    }
  });
  await expect
    .poll(() => app.evaluate(() => (window as unknown as { __longTasks: Array<{ ms: number }> }).__longTasks.filter((t) => t.ms >= 110).length))
    .toBeGreaterThan(0);
  const sinceLoad = await app.evaluate(() => performance.now());

  const mark = (name: string) =>
    app.evaluate((n) => ((window as unknown as { __marks: Array<[string, number]> }).__marks ??= []).push([n, performance.now()]), name);
  await mark('ask');
  await openSample(app);
  const modes = await answerModes(app);
  await ask(app, 'what colour is the circle');
  await expectAllDone(app, modes);

  await mark('features');
  await app.getByTestId('tab-features').click();
  await app.getByTestId('features-input-a').setInputFiles(SAMPLE_IMAGE);
  await expect(app.getByTestId('features-view')).toHaveAttribute('data-status', 'done', { timeout: 60_000 });
  await expect(app.getByTestId('panel-clip-pca-0')).toBeVisible();

  await mark('eval');
  await app.getByTestId('tab-eval').click();
  await app.getByTestId('eval-suite-path').fill(path.join(ROOT, 'test', 'fixtures', 'suites', 'tiny-shapes.jsonl'));
  await app.getByTestId('eval-max-tokens').fill('3');
  await app.getByTestId('eval-run').click();
  await expect(app.getByTestId('eval-view')).toHaveAttribute('data-status', 'done', { timeout: 60_000 });
  await expect(app.getByTestId('eval-summary')).toBeVisible();

  const tasks = await app.evaluate(() => (window as unknown as { __longTasks: Array<{ start: number; ms: number }> }).__longTasks);
  const during = tasks.filter((t) => t.start >= sinceLoad);
  const marks = await app.evaluate(() => (window as unknown as { __marks: Array<[string, number]> }).__marks);
  const phase = (t: number) => [...marks].reverse().find(([, at]) => at <= t)?.[0] ?? 'start';
  console.log(`main-thread blocks ≥ 50 ms after start-up: ${during.map((t) => `${phase(t.start)} ${t.ms.toFixed(0)} ms`).join(', ') || 'none'}`);
  expect(during.filter((t) => t.ms > BUDGET_MS)).toEqual([]);
});
