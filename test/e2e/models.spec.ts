/**
 * The Models view in web mode on the real engine (tiny fixture pack): the
 * pack's components and modes, and the engine's memory estimate.
 */
import { PACK, expect, test } from './fixtures.js';

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
