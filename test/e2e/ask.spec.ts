/**
 * The Ask view in web mode, end to end: real server, real engine process on
 * the tiny fixture pack, the built renderer in Chromium. Covers the issue's
 * flow: open an image, ask, three streamed answers; change t and see the
 * diffusion columns re-run; stop a generation midway; survive the engine
 * process being killed. Also saves the README's screenshots.
 */
import * as path from 'node:path';
import { ROOT, answerModes, ask, expect, expectAllDone, openSample, test } from './fixtures.js';

const SCREENSHOTS = path.join(ROOT, 'docs', 'screenshots');

test('answers a question in side-by-side columns, light and dark', async ({ app }) => {
  await openSample(app);
  const modes = await answerModes(app);
  expect(modes.length).toBeGreaterThanOrEqual(3);
  expect(modes).toEqual(expect.arrayContaining(['clip', 'diffusion', 'fused']));

  await ask(app, 'what color is the cube?');
  await expectAllDone(app, modes);
  for (const m of modes) await expect(app.getByTestId(`time-${m}`)).toHaveText(/\d+(\.\d+)? (ms|s)/);

  // The history keeps the question; the attention strip shows a map per word.
  await expect(app.getByTestId('history-entry')).toHaveCount(1);
  await expect(app.getByTestId('attention-strip').locator('.attn-tile').first()).toBeVisible();
  await app.getByTestId('attention-strip').locator('.attn-tile').nth(1).click();

  // Status bar: pack, providers, memory.
  await expect(app.getByTestId('pack-name')).toContainText('tiny');
  await expect(app.getByTestId('providers')).toContainText('cpu');
  await expect(app.getByTestId('memory')).toContainText('MiB');

  await app.evaluate(() => document.documentElement.setAttribute('data-theme', 'light'));
  await app.screenshot({ path: path.join(SCREENSHOTS, 'ask-light.png') });
  await app.getByTestId('theme-toggle').click();
  await expect(app.locator('html')).toHaveAttribute('data-theme', 'dark');
  await app.screenshot({ path: path.join(SCREENSHOTS, 'ask-dark.png') });
});

test('changing t re-runs the diffusion-based columns only', async ({ app }) => {
  await openSample(app);
  const modes = await answerModes(app);
  await ask(app, 'is there a circle?');
  await expectAllDone(app, modes);
  const clipBefore = await app.getByTestId('time-clip').textContent();

  await app.getByTestId('knob-t').fill('10');
  // The diffusion columns leave "done" (queued/running) and come back with new answers.
  await expect(app.getByTestId('answer-diffusion')).not.toHaveAttribute('data-status', 'done', { timeout: 5_000 });
  await expectAllDone(app, modes);
  await expect(app.getByTestId('history-entry')).toHaveCount(2);
  await expect(app.getByTestId('history-entry').first()).toContainText('t=10');
  // CLIP does not read diffusion features: it was not re-run.
  await expect(app.getByTestId('time-clip')).toHaveText(clipBefore ?? '');
});

test('stops one column midway, and Esc stops them all', async ({ app }) => {
  await openSample(app);
  await app.getByTestId('knob-max-tokens').fill('4000');
  await ask(app, 'describe the picture');

  // Stop the diffusion column once it is streaming.
  const diffusion = app.getByTestId('answer-diffusion');
  await expect(diffusion).toHaveAttribute('data-status', 'running', { timeout: 60_000 });
  await expect(app.getByTestId('text-diffusion')).not.toBeEmpty();
  await app.getByTestId('stop-diffusion').click();
  await expect(diffusion).toHaveAttribute('data-status', 'stopped');
  await expect(app.getByTestId('text-diffusion')).not.toBeEmpty();
  // The other columns carry on.
  await expect(app.getByTestId('answer-fused')).toHaveAttribute('data-status', 'done', { timeout: 60_000 });

  // Esc stops everything still running or queued.
  await ask(app, 'describe the picture again');
  await expect(app.getByTestId('answer-clip')).toHaveAttribute('data-status', 'running', { timeout: 60_000 });
  await app.keyboard.press('Escape');
  for (const m of ['clip', 'diffusion', 'fused']) {
    await expect(app.getByTestId(`answer-${m}`)).toHaveAttribute('data-status', /stopped|done/);
  }
  await expect(app.getByTestId('answer-diffusion')).toHaveAttribute('data-status', 'stopped');
  await expect(app.getByTestId('stop-all')).toBeDisabled();
});

test('recovers when the engine process is killed', async ({ app, server }) => {
  await openSample(app);
  const modes = await answerModes(app);
  const bar = app.getByTestId('status-bar');
  await expect(bar).toHaveAttribute('data-engine-pid', /\d+/);
  const pid = Number(await bar.getAttribute('data-engine-pid'));
  const restartsBefore = server.engine.state.restarts;

  // Kill it in the middle of a generation.
  await app.getByTestId('knob-max-tokens').fill('4000');
  await ask(app, 'what is in the image?');
  await expect(app.getByTestId('answer-clip')).toHaveAttribute('data-status', 'running', { timeout: 60_000 });
  process.kill(pid, 'SIGKILL');

  await expect(app.getByTestId('answer-clip')).toHaveAttribute('data-status', 'error');
  await expect(bar).toHaveAttribute('data-engine-state', 'ready', { timeout: 60_000 });
  await expect(bar).toHaveAttribute('data-restarts', String(restartsBefore + 1));
  await expect(app.getByTestId('engine-state')).toContainText('restarted');
  await expect(bar).not.toHaveAttribute('data-engine-pid', String(pid), { timeout: 10_000 });

  // The page kept its image and question; asking again works.
  await expect(app.getByTestId('image-preview')).toBeVisible();
  await app.getByTestId('knob-max-tokens').fill('');
  await app.getByTestId('ask').click();
  await expectAllDone(app, modes);
});

test('history persists across reloads and re-runs an entry', async ({ app }) => {
  await openSample(app);
  const modes = await answerModes(app);
  await ask(app, 'how many shapes?');
  await expectAllDone(app, modes);
  await app.reload();
  await expect(app.getByTestId('status-bar')).toHaveAttribute('data-engine-state', 'ready', { timeout: 60_000 });
  await openSample(app);
  await expect(app.getByTestId('history-entry')).toHaveCount(1);
  await app.getByTestId('history-entry').locator('.history-item').click();
  await expectAllDone(app, modes);
  await expect(app.getByTestId('question')).toHaveValue('how many shapes?');
  await expect(app.getByTestId('history-entry')).toHaveCount(2);
});
