/**
 * Workbench behaviour that needs a scripted engine (test/e2e/fake-engine.ts)
 * behind the real server and page: unavailable modes shown with their
 * reason, extra modes, knobs reaching the contract, drag-and-drop and
 * paste, crash/restart notices, opening packs by path, persistence, and the
 * 1280×800 layout. Fast: no models run.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import { type Page, test as base, expect } from '@playwright/test';
import { FakeEngine } from './fake-engine.js';
import { ROOT, SAMPLE_IMAGE, SAMPLE_IMAGE_B, ask, openSample } from './fixtures.js';

const test = base.extend<{ fake: FakeEngine; app: Page }>({
  // eslint-disable-next-line no-empty-pattern -- Playwright needs the destructuring to see no dependencies
  fake: async ({}, use) => {
    await use(new FakeEngine());
  },
  app: async ({ page, fake }, use) => {
    const { startServer } = (await import(pathToFileURL(path.join(ROOT, 'dist', 'server', 'index.js')).href)) as {
      startServer(o: object): Promise<{ url: string; close(): Promise<void> }>;
    };
    // The fake engine's packs live under /data (they exist only in the fake): the roots a user would pass.
    const server = await startServer({ port: 0, engine: fake, roots: ['/data', ROOT] });
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    await page.goto(server.url);
    await expect(page.getByTestId('pack-name')).toContainText('fake-pack');
    await use(page);
    await server.close();
    expect(errors).toEqual([]);
  },
});

test('shows modes the pack cannot serve, disabled with the reason; extra modes on request', async ({ app }) => {
  await expect(app.getByTestId('answer-fused')).toHaveAttribute('data-status', 'unavailable');
  await expect(app.getByTestId('reason-fused')).toContainText('no trained fusion projector');
  await expect(app.getByTestId('answer-concat')).toHaveCount(0);
  await app.getByLabel('extra modes').check();
  await expect(app.getByTestId('answer-concat')).toBeVisible();

  await openSample(app);
  await ask(app, 'what colour?');
  await expect(app.getByTestId('text-clip')).toHaveText('clip answer to what colour?');
  await expect(app.getByTestId('text-concat')).toHaveText('concat answer to what colour?');
  await expect(app.getByTestId('answer-fused')).toHaveAttribute('data-status', 'unavailable');
});

test('sends the knobs through the contract', async ({ app, fake }) => {
  await openSample(app);
  await app.getByTestId('knob-t').fill('250');
  await app.getByTestId('knob-guidance').fill('1.5');
  await app.getByTestId('knob-tap').selectOption('U-L2-R2-Res-Out');
  await app.getByTestId('knob-prompt').selectOption('custom');
  await app.getByTestId('knob-custom-prompt').fill('a photo of a dog');
  await app.getByTestId('knob-seed').fill('7');
  await app.getByTestId('knob-max-tokens').fill('12');
  await ask(app, 'is there a dog?');
  await expect(app.getByTestId('answer-diffusion')).toHaveAttribute('data-status', 'done');
  const askCall = fake.calls.find((c) => c.method === 'ask' && (c.params as { modes: string[] }).modes[0] === 'diffusion');
  expect(askCall?.params).toMatchObject({
    question: 'is there a dog?',
    modes: ['diffusion'],
    diffusion: { t: 250, guidance: 1.5, tap: 'U-L2-R2-Res-Out', promptSource: 'custom', customPrompt: 'a photo of a dog', seed: 7 },
    generation: { maxTokens: 12 },
  });
  // The image travelled as bytes (a binary frame), parsed by the contract into a Uint8Array.
  const image = (askCall?.params as { image: { bytes: Uint8Array; name: string } }).image;
  expect(image.bytes).toBeInstanceOf(Uint8Array);
  expect(image.bytes.byteLength).toBe(fs.statSync(SAMPLE_IMAGE).size);
  // The attention strip asked for the prompt the UNet saw: the custom text.
  await expect.poll(() => fake.calls.find((c) => c.method === 'features')?.params).toMatchObject({ prompt: 'a photo of a dog', crossAttention: true });
  await expect(app.getByTestId('attention-strip').locator('.attn-tile')).toHaveCount(2);

  // Knobs survive a reload.
  await app.reload();
  await expect(app.getByTestId('knob-t')).toHaveValue('250');
  await expect(app.getByTestId('knob-prompt')).toHaveValue('custom');
});

test('opens images by drag-and-drop and paste', async ({ app }) => {
  const bytes = [...fs.readFileSync(SAMPLE_IMAGE_B)];
  await app.evaluate((data) => {
    const dt = new DataTransfer();
    dt.items.add(new File([new Uint8Array(data)], 'dropped.png', { type: 'image/png' }));
    window.dispatchEvent(new DragEvent('drop', { dataTransfer: dt, bubbles: true, cancelable: true }));
  }, bytes);
  await expect(app.getByTestId('image-preview')).toHaveAttribute('alt', 'dropped.png');

  await app.evaluate((data) => {
    const dt = new DataTransfer();
    dt.items.add(new File([new Uint8Array(data)], 'pasted.png', { type: 'image/png' }));
    window.dispatchEvent(new ClipboardEvent('paste', { clipboardData: dt, bubbles: true, cancelable: true }));
  }, bytes);
  await expect(app.getByTestId('image-preview')).toHaveAttribute('alt', 'pasted.png');

  await app.evaluate(() => {
    const dt = new DataTransfer();
    dt.items.add(new File(['not an image'], 'notes.png', { type: 'image/png' }));
    window.dispatchEvent(new DragEvent('drop', { dataTransfer: dt, bubbles: true, cancelable: true }));
  });
  await expect(app.getByTestId('notices')).toContainText('not an image');
  await expect(app.getByTestId('image-preview')).toHaveAttribute('alt', 'pasted.png');
});

test('tells the user when the engine crashes and comes back, keeping the page', async ({ app, fake }) => {
  await openSample(app);
  await app.getByTestId('question').fill('still here?');
  fake.setState({ state: 'crashed', message: 'engine exited (signal SIGKILL)', restarts: 0 });
  await expect(app.getByTestId('status-bar')).toHaveAttribute('data-engine-state', 'crashed');
  await expect(app.getByTestId('notices')).toContainText('SIGKILL');
  fake.setState({ state: 'ready', restarts: 1, pid: 5000 });
  await expect(app.getByTestId('engine-state')).toContainText('restarted 1×');
  await expect(app.getByTestId('notices')).toContainText('restarted');
  await expect(app.getByTestId('question')).toHaveValue('still here?');
  await expect(app.getByTestId('image-preview')).toBeVisible();

  await app.getByTestId('restart-engine').click();
  await expect.poll(() => fake.restartCalls).toBe(1);
  await expect(app.getByTestId('engine-state')).toContainText('restarted 2×');
});

test('opens a pack by path, tells other tabs, and explains a folder that is not one', async ({ app }) => {
  const other = await app.context().newPage();
  await other.goto(app.url());
  await expect(other.getByTestId('pack-name')).toContainText('fake-pack');
  await app.getByTestId('open-pack').click();
  await app.getByPlaceholder('/path/to/pack').fill('/data/nothing-here');
  await app.getByRole('button', { name: 'Open', exact: true }).click();
  await expect(app.getByTestId('notices')).toContainText('has no pack.json');
  await app.getByTestId('open-pack').click();
  await app.getByPlaceholder('/path/to/pack').fill('/data/good-pack');
  await app.getByRole('button', { name: 'Open', exact: true }).click();
  await expect(app.getByTestId('pack-name')).toContainText('good-pack');
  await expect(other.getByTestId('pack-name')).toContainText('good-pack');
  await expect(other.getByTestId('notices')).toContainText('Opened pack good-pack');
});

test('fits 1280×800 without page scrolling, in both themes; Esc stops', async ({ app, fake }) => {
  fake.tokenDelayMs = 400;
  await openSample(app);
  await ask(app, 'a long question that streams slowly');
  await expect(app.getByTestId('answer-clip')).toHaveAttribute('data-status', 'running');
  for (const theme of ['light', 'dark']) {
    await app.evaluate((t) => document.documentElement.setAttribute('data-theme', t), theme);
    const size = await app.evaluate(() => ({ w: document.documentElement.scrollWidth, h: document.documentElement.scrollHeight }));
    expect(size.w).toBeLessThanOrEqual(1280);
    expect(size.h).toBeLessThanOrEqual(800);
  }
  await app.keyboard.press('Escape');
  await expect(app.getByTestId('answer-clip')).toHaveAttribute('data-status', 'stopped');
  await expect(app.getByTestId('answer-diffusion')).toHaveAttribute('data-status', 'stopped');
});
