/**
 * The whole path through Ask, Features and Eval with the keyboard alone (real
 * server, real engine on the tiny fixture pack): every control is reached
 * with Tab from where the previous step left the focus, and operated with
 * Enter, Space, arrows or typing — no clicks, no programmatic focus. A
 * control that only a mouse can reach makes `tabTo` fail with the list of
 * what Tab visited.
 */
import * as path from 'node:path';
import type { Page } from '@playwright/test';
import { ROOT, SAMPLE_IMAGE, answerModes, expect, expectAllDone, test } from './fixtures.js';

const SUITE = path.join(ROOT, 'test', 'fixtures', 'suites', 'tiny-shapes.jsonl');

async function focusedTestId(page: Page): Promise<string> {
  return page.evaluate(() => (document.activeElement as HTMLElement | null)?.dataset.testid ?? document.activeElement?.tagName ?? '');
}

/** Presses Tab (forward) until the element with `testId` has the focus. */
async function tabTo(page: Page, testId: string, max = 250): Promise<void> {
  const seen: string[] = [];
  for (let i = 0; i < max; i++) {
    const id = await focusedTestId(page);
    if (id === testId) return;
    seen.push(id);
    await page.keyboard.press('Tab');
  }
  throw new Error(`Tab never reached ${testId}; it visited: ${[...new Set(seen)].join(', ')}`);
}

test('Ask → Features → Eval with the keyboard only', async ({ app }) => {
  // Ask: Ctrl+O opens the image chooser, Tab to the question, type it, Enter.
  const [chooser] = await Promise.all([app.waitForEvent('filechooser'), app.keyboard.press('Control+o')]);
  await chooser.setFiles(SAMPLE_IMAGE);
  await expect(app.getByTestId('image-preview')).toBeVisible();
  const modes = await answerModes(app);
  await tabTo(app, 'question');
  await app.keyboard.type('what colour is the circle');
  await app.keyboard.press('Enter');
  await expectAllDone(app, modes);
  // A knob by keyboard: the t field takes typing, and the diffusion columns run again.
  await tabTo(app, 'knob-t');
  await app.keyboard.press('Control+a');
  await app.keyboard.type('10');
  await expect(app.getByTestId('answer-diffusion')).toHaveAttribute('data-runs', '2', { timeout: 30_000 });
  await expectAllDone(app, modes);

  // Features: the view tab, the image, a layer, the timestep scrubber by arrow keys.
  await tabTo(app, 'tab-features');
  await app.keyboard.press('Enter');
  await expect(app.getByTestId('features-view')).toBeVisible();
  await tabTo(app, 'features-open-a');
  const [chooserA] = await Promise.all([app.waitForEvent('filechooser'), app.keyboard.press('Enter')]);
  await chooserA.setFiles(SAMPLE_IMAGE);
  await expect(app.getByTestId('features-view')).toHaveAttribute('data-status', 'done', { timeout: 60_000 });
  const options = app.getByTestId('layer-list').getByRole('option');
  const second = (await options.nth(1).getAttribute('data-testid'))!;
  await tabTo(app, second);
  await app.keyboard.press('Space');
  await expect(app.getByTestId(second)).toHaveAttribute('aria-selected', 'true');
  await tabTo(app, 'features-t');
  const before = await app.getByTestId('features-t-value').innerText();
  await app.keyboard.press('ArrowRight');
  await expect(app.getByTestId('features-t-value')).not.toHaveText(before);
  await expect(app.getByTestId('features-view')).toHaveAttribute('data-status', 'done', { timeout: 60_000 });

  // Eval: the view tab, the suite path typed, a limit, Run with Enter; the summary appears.
  await tabTo(app, 'tab-eval');
  await app.keyboard.press('Enter');
  await expect(app.getByTestId('eval-view')).toBeVisible();
  await tabTo(app, 'eval-suite-path');
  await app.keyboard.type(SUITE);
  await tabTo(app, 'eval-limit');
  await app.keyboard.type('2');
  await tabTo(app, 'eval-max-tokens');
  await app.keyboard.type('3');
  await tabTo(app, 'eval-run');
  await app.keyboard.press('Enter');
  await expect(app.getByTestId('eval-summary')).toContainText('tiny-shapes', { timeout: 120_000 });
  await expect(app.getByTestId('eval-summary')).not.toContainText('incomplete');
});
