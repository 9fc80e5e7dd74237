/**
 * The Models view in web mode on the real engine (tiny fixture pack): the
 * pack's components and modes, the engine's memory estimate, and the pack
 * composer (SD + CLIP family fixtures into a temporary folder).
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { PACK, ROOT, expect, test } from './fixtures.js';

const FAM = path.join(ROOT, 'test', 'fixtures', 'families');

test('Models view: components, modes and the memory estimate', async ({ app }) => {
  await app.getByTestId('tab-models').click();
  await expect(app.getByTestId('models-view')).toBeVisible();
  await expect(app.getByTestId('models-pack')).toContainText('tiny');
  await expect(app.getByTestId('models-components')).toContainText(/unet/i, { timeout: 30_000 });
  await expect(app.getByTestId('models-modes')).toContainText('available');
  await expect(app.getByTestId('models-total')).toHaveText(/\d+(\.\d+)? (B|KiB|MiB|GiB)/, { timeout: 30_000 });
  // Estimating another folder before opening it.
  await app.getByTestId('models-pack-dir').fill(PACK);
  await app.getByTestId('models-estimate').click();
  await expect(app.getByTestId('models-estimate-result')).toContainText('tiny');
});

test('Models view: compose SD + CLIP into a pack, see the checks and what it can serve', async ({ app }) => {
  test.setTimeout(20_000);
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'twinlens-e2e-compose-'));
  try {
    await app.getByTestId('tab-models').click();
    await expect(app.getByTestId('compose-run')).toBeDisabled();
    await app.getByTestId('compose-sd').fill(path.join(FAM, 'sd15-diffusers'));
    await app.getByTestId('compose-clip').fill(path.join(FAM, 'clip-vit-transformersjs'));
    await app.getByTestId('compose-out').fill(path.join(work, 'pack'));
    await app.getByTestId('compose-name').fill('e2e-composed');
    await app.getByTestId('compose-copy').check();
    await app.getByTestId('compose-run').click();
    await expect(app.getByTestId('compose-usable')).toHaveText('usable', { timeout: 15_000 });
    const checks = app.getByTestId('compose-checks');
    await expect(checks).toContainText('✓ manifest');
    await expect(checks.locator('li[data-status="error"]')).toHaveCount(0);
    const modes = app.getByTestId('compose-modes');
    await expect(modes).toContainText('Feature maps');
    await expect(modes.locator('li[data-available="true"]').first()).toBeVisible();
    // No LLM: answers are unavailable, with the reason.
    await expect(modes).toContainText(/no LLM/);
    await expect(app.getByTestId('compose-open')).toBeEnabled();
    expect(fs.existsSync(path.join(work, 'pack', 'pack.json'))).toBe(true);
    // Bad input: the engine's message and hint.
    await app.getByTestId('compose-sd').fill(path.join(work, 'no-such-folder'));
    await app.getByTestId('compose-clip').fill('');
    await app.getByTestId('compose-out').fill(path.join(work, 'bad'));
    await app.getByTestId('compose-run').click();
    await expect(app.getByTestId('compose-error')).toBeVisible({ timeout: 10_000 });
    await expect(app.getByTestId('compose-result')).toHaveCount(0);
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
  }
});
