/**
 * The Eval view in web mode on the real engine (tiny fixture pack, whose
 * answers are gibberish: the numbers are mechanics, not accuracy): a run of
 * the fixture suite can be stopped midway (partial summary), a small run
 * completes with progress, the accuracy chart (bars with CI whiskers), the
 * sweep chart and the items table, and exports CSV / JSON / PNG. A
 * short leakage probe (caption task: the
 * fixture's first two items share their question but not their caption)
 * shows its chart and table and exports the report as JSON.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Download } from '@playwright/test';
import { ROOT, answerModes, ask, expect, expectAllDone, openSample, test } from './fixtures.js';

const SUITE = path.join(ROOT, 'test', 'fixtures', 'suites', 'tiny-shapes.jsonl');

async function bytes(d: Download): Promise<Buffer> {
  return fs.readFileSync(await d.path());
}

test('Eval view: stop a run, run a small sweep, see the charts, export', async ({ app, server }) => {
  await app.getByTestId('tab-eval').click();
  const view = app.getByTestId('eval-view');
  await expect(view).toBeVisible();
  // The tiny pack ships no built-in suites: a path on the engine's machine.
  await app.getByTestId('eval-suite-path').fill(SUITE);
  await app.getByTestId('eval-max-tokens').fill('3');

  // A full run, stopped after its first item: a partial summary. The tiny pack
  // answers all 8 items faster than a click travels, so the engine is held at
  // its first progress event while the stop is on its way (freezable-engine.ts).
  server.engine.freezeWhen = (e) => e.type === 'eval-progress' && e.done >= 1;
  await app.getByTestId('eval-run').click();
  await expect(view).toHaveAttribute('data-status', 'running');
  await expect(app.getByTestId('eval-progress')).toContainText(/[1-9]\d* \/ 8/, { timeout: 60_000 });
  await app.getByTestId('eval-stop').click();
  await expect(view).toHaveAttribute('data-status', 'stopped', { timeout: 60_000 });
  await expect(app.getByTestId('eval-summary')).toContainText('incomplete');

  // Resume: the engine continues the run's journal after its last finished item.
  await app.getByTestId('eval-resume').click();
  await expect(view).toHaveAttribute('data-status', 'done', { timeout: 60_000 });
  await expect(app.getByTestId('eval-summary')).not.toContainText('incomplete');
  await expect(app.getByTestId('eval-summary')).toContainText(/[1-9]\d* resumed/);
  await expect(app.getByTestId('eval-resume')).toHaveCount(0);

  // A small sweep over t, to completion.
  await app.getByTestId('eval-mode-fused').uncheck();
  await app.getByTestId('eval-limit').fill('2');
  await app.getByTestId('eval-sweep').selectOption('guidance=0,1,4');
  await app.getByTestId('eval-run').click();
  await expect(view).toHaveAttribute('data-status', 'done', { timeout: 90_000 });
  await expect(app.getByTestId('eval-progress')).toContainText('6 / 6');
  await expect(app.getByTestId('eval-summary')).toContainText('tiny-shapes');
  await expect(app.getByTestId('eval-summary')).not.toContainText('incomplete');
  const bars = app.getByTestId('accuracy-chart');
  await expect(bars).toBeVisible();
  await expect(bars.locator('g.bar')).not.toHaveCount(0);
  await expect(bars.locator('[data-group="all"] g.bar')).toHaveCount(2);
  await expect(app.getByTestId('sweep-chart')).toContainText('guidance=4');
  await app.getByTestId('eval-setting').selectOption({ label: 'guidance=1' });

  await app.evaluate(() => document.documentElement.setAttribute('data-theme', 'light'));

  const [csv] = await Promise.all([app.waitForEvent('download'), app.getByTestId('eval-export-csv').click()]);
  const text = (await bytes(csv)).toString('utf8');
  expect(text.split('\r\n')[0]).toBe('setting,mode,group,n,correct,accuracy,ci95_low,ci95_high');
  expect(text).toContain('guidance=4,diffusion,all,2,');
  const [json] = await Promise.all([app.waitForEvent('download'), app.getByTestId('eval-export-json').click()]);
  const doc = JSON.parse((await bytes(json)).toString('utf8'));
  expect(doc).toMatchObject({ format: 'twinlens-eval', modes: ['clip', 'diffusion'], sweep: { key: 'guidance', values: [0, 1, 4] }, evaluated: 2 });
  const downloads: Download[] = [];
  app.on('download', (d) => downloads.push(d));
  await app.getByTestId('eval-export-png').click();
  await expect.poll(() => downloads.length).toBe(2);
  for (const d of downloads) expect((await bytes(d)).subarray(1, 4).toString()).toBe('PNG');
});

test('Eval view: a short leakage probe shows the chart and table, exports JSON', async ({ app }) => {
  await app.getByTestId('tab-eval').click();
  await app.getByTestId('eval-suite-path').fill(SUITE);
  await app.getByTestId('eval-max-tokens').fill('3');
  const probe = app.getByTestId('leakage-probe');
  await probe.scrollIntoViewIfNeeded();
  await app.getByTestId('leakage-task').selectOption('caption');
  await app.getByTestId('leakage-guidance').fill('4');
  await app.getByTestId('leakage-limit').fill('2');
  await app.getByTestId('leakage-run').click();
  await expect(probe).toHaveAttribute('data-status', 'done', { timeout: 60_000 });
  // 2 items × (empty + matched + mismatched at one s).
  await expect(app.getByTestId('leakage-progress')).toContainText('6 / 6');
  await expect(app.getByTestId('leakage-summary')).toContainText('caption task · 2 items');
  const chart = app.getByTestId('leakage-chart');
  await expect(chart).toBeVisible();
  await expect(chart.locator('g[data-mode] circle.point')).not.toHaveCount(0);
  await expect(chart.locator('.control').first()).toHaveAttribute('stroke-dasharray', '5 4');
  await expect(app.getByTestId('leakage-row').first()).toHaveAttribute('data-guidance', '4');
  const [json] = await Promise.all([app.waitForEvent('download'), app.getByTestId('leakage-export-json').click()]);
  const doc = JSON.parse((await bytes(json)).toString('utf8'));
  expect(doc).toMatchObject({ format: 'twinlens-leakage', task: 'caption', guidance: [4], evaluated: 2, complete: true });
  expect(doc.rows[0].modes.diffusion.leakage).toHaveProperty('cider');
});

test('Ask answers while an evaluation runs (the engine lets questions go between eval items)', async ({ app, server }) => {
  test.setTimeout(120_000);
  server.engine.freezeWhen = undefined;
  await app.getByTestId('tab-eval').click();
  await app.getByTestId('eval-suite-path').fill(SUITE);
  await app.getByTestId('eval-max-tokens').fill('3');
  await app.getByTestId('eval-limit').fill('8');
  // 8 items × 5 values of t × 3 modes: seconds of work, against one question's fraction of a second.
  await app.getByTestId('eval-sweep').selectOption('t=10,50,100,250,500');
  await app.getByTestId('eval-run').click();
  const view = app.getByTestId('eval-view');
  await expect(view).toHaveAttribute('data-status', 'running');
  await expect(app.getByTestId('eval-progress')).toContainText(/[1-9]\d* \/ 40/, { timeout: 60_000 });

  await app.getByTestId('tab-ask').click();
  await openSample(app);
  const modes = await answerModes(app);
  await ask(app, 'what colour is the circle');
  await expectAllDone(app, modes);
  // Answered while the evaluation is still going: it did not wait for the 40 items.
  await expect(view).toHaveAttribute('data-status', 'running');
  await app.getByTestId('tab-eval').click();
  await expect(view).toHaveAttribute('data-status', 'done', { timeout: 90_000 });
  await expect(app.getByTestId('eval-summary')).not.toContainText('incomplete');
});
