/**
 * The status bar's execution-provider picker (web mode, real engine process):
 * choosing a provider restarts the engine on it; asking for one this machine
 * lacks (CUDA here) still answers, on the CPU, and the status bar says so.
 */
import { answerModes, ask, expect, expectAllDone, openSample, test } from './fixtures.js';

test('choosing an execution provider restarts the engine on it and reports a fallback', async ({ app }) => {
  test.setTimeout(120_000);
  const bar = app.getByTestId('status-bar');
  const restarts = Number(await bar.getAttribute('data-restarts'));
  const pid = await bar.getAttribute('data-engine-pid');
  await expect(app.getByTestId('provider-select')).toHaveValue('auto');

  await app.getByTestId('provider-select').selectOption('cuda');
  await expect(bar).toHaveAttribute('data-restarts', String(restarts + 1), { timeout: 60_000 });
  await expect(bar).toHaveAttribute('data-engine-state', 'ready', { timeout: 60_000 });
  await openSample(app);
  const modes = await answerModes(app);
  await ask(app, 'what color is the cube?');
  await expectAllDone(app, modes);
  await expect(bar).not.toHaveAttribute('data-engine-pid', pid ?? '');
  const providers = app.getByTestId('providers');
  // here (no CUDA) the note; on a CUDA machine, sessions on cuda and no note
  await expect(providers).toHaveText(/fell back to cpu: cuda|unavailable: fell back to cpu|^(?!.*fell back).*\bcuda\b/);

  // back to auto for the tests that share this engine
  await app.getByTestId('provider-select').selectOption('auto');
  await expect(bar).toHaveAttribute('data-restarts', String(restarts + 2), { timeout: 60_000 });
  await expect(bar).toHaveAttribute('data-engine-state', 'ready', { timeout: 60_000 });
});
