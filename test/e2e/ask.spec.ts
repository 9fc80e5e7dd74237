/**
 * The Ask view in web mode, end to end: real server, real engine process on
 * the tiny fixture pack, the built renderer in Chromium. Covers the issue's
 * flow: open an image, ask, three streamed answers; change t and see the
 * diffusion columns re-run; stop a generation midway; survive the engine
 * process being killed. (The README's screenshots: showcase.spec.ts, on mini-world.)
 */
import type { Page } from '@playwright/test';
import { answerModes, ask, expect, expectAllDone, openSample, test } from './fixtures.js';

/**
 * Resolve once `mode`'s column shows its first streamed text, acting inside
 * the page at that very moment (a MutationObserver: polling from the test
 * would miss a generation that lasts a second).
 */
async function whenStreaming(page: Page, mode: string, action: 'click-stop' | 'escape' | 'none'): Promise<void> {
  await page.evaluate(
    ([mode, action]) =>
      new Promise<void>((resolve) => {
        const check = () => {
          const col = document.querySelector(`[data-testid="answer-${mode}"]`) as HTMLElement | null;
          const text = document.querySelector(`[data-testid="text-${mode}"]`)?.textContent ?? '';
          if (!col || col.dataset.status !== 'running' || !text.trim()) return false;
          if (action === 'click-stop') (document.querySelector(`[data-testid="stop-${mode}"]`) as HTMLButtonElement | null)?.click();
          if (action === 'escape') window.dispatchEvent(new KeyboardEvent('keydown', { key: 'Escape', bubbles: true }));
          return true;
        };
        const obs = new MutationObserver(() => {
          if (check()) {
            obs.disconnect();
            resolve();
          }
        });
        obs.observe(document.body, { subtree: true, childList: true, characterData: true, attributes: true });
      }),
    [mode, action] as const,
  );
}

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
  await app.getByTestId('theme-toggle').click();
  await expect(app.locator('html')).toHaveAttribute('data-theme', 'dark');
});

test('changing t re-runs the diffusion-based columns only', async ({ app }) => {
  await openSample(app);
  const modes = await answerModes(app);
  await ask(app, 'is there a circle?');
  await expectAllDone(app, modes);
  for (const m of modes) await expect(app.getByTestId(`answer-${m}`)).toHaveAttribute('data-runs', '1');

  await app.getByTestId('knob-t').fill('10');
  // The columns that read diffusion features run again (second run) and answer again.
  await expect(app.getByTestId('answer-diffusion')).toHaveAttribute('data-runs', '2', { timeout: 10_000 });
  await expect(app.getByTestId('answer-fused')).toHaveAttribute('data-runs', '2');
  await expectAllDone(app, modes);
  await expect(app.getByTestId('history-entry')).toHaveCount(2);
  await expect(app.getByTestId('history-entry').first()).toContainText('t=10');
  // CLIP does not read diffusion features: it was not re-run.
  await expect(app.getByTestId('answer-clip')).toHaveAttribute('data-runs', '1');
});

test('stops one column midway, and Esc stops them all', async ({ app, server }) => {
  await openSample(app);
  await app.getByTestId('knob-max-tokens').fill('4000');
  // Hold the engine at its first token while the click travels (see freezable-engine.ts).
  server.engine.freezeAtNextToken = true;
  const stopped = whenStreaming(app, 'clip', 'click-stop');
  await ask(app, 'describe the picture');

  // Stop the CLIP column as soon as it streams (the tiny pack writes a long answer in ~0.2 s: too fast to poll).
  const clip = app.getByTestId('answer-clip');
  await stopped;
  await expect(clip).toHaveAttribute('data-status', 'stopped', { timeout: 60_000 });
  await expect(app.getByTestId('text-clip')).not.toBeEmpty();
  await expect(clip).toContainText('Stopped after');
  await expect(clip).not.toContainText('token limit');
  // The other columns carry on.
  await expectAllDone(app, ['diffusion', 'fused']);

  // Esc stops everything still running or queued.
  server.engine.freezeAtNextToken = true;
  const escaped = whenStreaming(app, 'clip', 'escape');
  await ask(app, 'describe the picture again');
  await escaped;
  // CLIP was mid-answer; the others were still waiting their turn in the engine.
  for (const m of ['clip', 'diffusion', 'fused']) await expect(app.getByTestId(`answer-${m}`)).toHaveAttribute('data-status', 'stopped');
  await expect(app.getByTestId('stop-all')).toBeDisabled();
});

test('recovers when the engine process is killed', async ({ app, server }) => {
  await openSample(app);
  const modes = await answerModes(app);
  const bar = app.getByTestId('status-bar');
  await expect(bar).toHaveAttribute('data-engine-pid', /\d+/);
  const pid = Number(await bar.getAttribute('data-engine-pid'));
  const restartsBefore = server.engine.state.restarts;

  // Kill it in the middle of a generation: held still at its first token (the tiny pack can finish
  // a whole answer between two renders, and then "mid-generation" was never observed).
  await app.getByTestId('knob-max-tokens').fill('4000');
  server.engine.freezeAtNextToken = true;
  const streaming = whenStreaming(app, 'clip', 'none');
  await ask(app, 'what is in the image?');
  await streaming;
  process.kill(pid, 'SIGKILL');

  // Whatever was running or waiting fails with the crash (the fused column waits behind the others)…
  await expect(app.getByTestId('answer-fused')).toHaveAttribute('data-status', 'error');
  await expect(app.getByTestId('answer-fused')).toContainText('engine');
  await expect(bar).toHaveAttribute('data-engine-state', 'ready', { timeout: 60_000 });
  await expect(bar).toHaveAttribute('data-restarts', String(restartsBefore + 1));
  await expect(app.getByTestId('engine-state')).toContainText('restarted');
  await expect(bar).not.toHaveAttribute('data-engine-pid', String(pid), { timeout: 10_000 });

  // …the page keeps its image and question, and asking again works.
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

test('copies an answer and exports the question as Markdown', async ({ app, context }) => {
  await context.grantPermissions(['clipboard-read', 'clipboard-write']);
  await openSample(app);
  const modes = await answerModes(app);
  await ask(app, 'what color is the cube?');
  await expectAllDone(app, modes);
  const text = (await app.getByTestId('text-clip').textContent())?.trim() ?? '';
  await app.getByTestId('copy-clip').click();
  await expect(app.getByTestId('copy-clip')).toHaveText('copied');
  expect(await app.evaluate(() => navigator.clipboard.readText())).toBe(text);

  const [download] = await Promise.all([app.waitForEvent('download'), app.getByTestId('export-md').click()]);
  expect(download.suggestedFilename()).toMatch(/\.md$/);
  const md = (await import('node:fs')).readFileSync(await download.path(), 'utf8');
  expect(md).toContain('# what color is the cube?');
  for (const m of modes) expect(md).toMatch(new RegExp(`^\\| ${m} \\|`, 'm'));
});
