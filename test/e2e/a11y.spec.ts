/**
 * Accessibility: axe-core over every view of the workbench, in both themes,
 * with content on screen (an answered question, feature maps, the Eval and
 * Models forms). Fails on any serious or critical violation, listing the
 * rule, the elements and axe's help text.
 */
import AxeBuilder from '@axe-core/playwright';
import type { Page } from '@playwright/test';
import { SAMPLE_IMAGE, answerModes, ask, expect, expectAllDone, openSample, test } from './fixtures.js';

async function violations(page: Page): Promise<string[]> {
  const r = await new AxeBuilder({ page }).analyze();
  return r.violations
    .filter((v) => v.impact === 'serious' || v.impact === 'critical')
    .map(
      (v) =>
        `${v.impact} ${v.id}: ${v.help} — ${v.nodes
          .map((n) => `${n.target.join(' ')} (${n.failureSummary?.split('\n').slice(1).join(' ').trim()})`)
          .slice(0, 5)
          .join(' | ')}`,
    );
}

for (const theme of ['light', 'dark'] as const) {
  test(`no serious or critical axe violations in any view (${theme} theme)`, async ({ app }) => {
    test.setTimeout(120_000);
    await app.evaluate((t) => document.documentElement.setAttribute('data-theme', t), theme);
    await openSample(app);
    const modes = await answerModes(app);
    await ask(app, 'what color is the cube?');
    await expectAllDone(app, modes);
    const found: Record<string, string[]> = { ask: await violations(app) };

    await app.getByTestId('tab-features').click();
    await app.getByTestId('features-input-a').setInputFiles(SAMPLE_IMAGE);
    await expect(app.getByTestId('features-view')).toHaveAttribute('data-status', 'done', { timeout: 60_000 });
    // every panel drawn (axe checks what is on screen: a half-drawn view hides its export buttons)
    await expect(app.getByTestId('panel-clip-pca-0')).toBeVisible();
    await expect(app.getByTestId('export-png-clip-pca-0')).toBeVisible();
    found.features = await violations(app);

    await app.getByTestId('tab-eval').click();
    await expect(app.getByTestId('eval-view')).toBeVisible();
    found.eval = await violations(app);

    await app.getByTestId('tab-models').click();
    await expect(app.getByTestId('models-pack-dir')).toBeVisible();
    found.models = await violations(app);

    // The Open pack… popover with its recent-packs list (the startup pack at least).
    await app.getByTestId('open-pack').click();
    await expect(app.getByTestId('recent-packs')).toBeVisible();
    found.openPack = await violations(app);

    expect(found).toEqual({ ask: [], features: [], eval: [], models: [], openPack: [] });
  });
}
