/**
 * Shared e2e fixtures: one web-mode server per worker (the compiled
 * dist/server, a real engine process on the tiny fixture pack), and a page
 * that has opened the printed URL (token → cookie) and waited for the
 * engine and the pack.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import { type Page, test as base, expect } from '@playwright/test';
import { type EngineHostLike, FreezableEngine } from './freezable-engine.js';

export const ROOT = path.resolve(import.meta.dirname, '..', '..');
// Evaluation journals of the engine under test go to a fresh folder, never the user's cache (a journal
// from an earlier run would make an evaluation resume).
process.env.TWINLENS_EVAL_RUNS ??= fs.mkdtempSync(path.join(os.tmpdir(), 'twinlens-e2e-eval-runs-'));

export const PACK = process.env.TWINLENS_E2E_PACK ?? path.join(ROOT, 'test', 'fixtures', 'packs', 'tiny');
export const SAMPLE_IMAGE = path.join(ROOT, 'test', 'fixtures', 'images', 'sample.png');
export const SAMPLE_IMAGE_B = path.join(ROOT, 'test', 'fixtures', 'images', 'sample-b.png');

export interface RunningServer {
  url: string;
  token: string;
  port: number;
  engine: FreezableEngine;
  close(): Promise<void>;
}

export async function startBuiltServer(packDir = PACK): Promise<RunningServer> {
  const entry = path.join(ROOT, 'dist', 'server', 'index.js');
  if (!fs.existsSync(entry)) throw new Error('dist/server is missing: run `npm run build` (npm run test:e2e does)');
  if (!fs.existsSync(path.join(ROOT, 'dist', 'renderer', 'index.html'))) throw new Error('dist/renderer is missing: run `npm run build:renderer`');
  const { startServer, EngineHost } = (await import(pathToFileURL(entry).href)) as {
    startServer(o: object): Promise<RunningServer>;
    EngineHost: new (o: object) => EngineHostLike;
  };
  const engine = new FreezableEngine(new EngineHost({ packDir, provider: 'cpu' }));
  // The roots a user would pass with --root: the checkout and the temp folder the compose test writes to.
  return startServer({ port: 0, engine, roots: [ROOT, os.tmpdir()] });
}

export const test = base.extend<{ app: Page }, { server: RunningServer }>({
  server: [
    // eslint-disable-next-line no-empty-pattern -- Playwright needs the destructuring to see no dependencies
    async ({}, use) => {
      const server = await startBuiltServer();
      await use(server);
      await server.close();
    },
    { scope: 'worker', timeout: 120_000 },
  ],
  app: async ({ page, server }, use) => {
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    await page.goto(server.url);
    await waitForEngine(page);
    await use(page);
    expect(errors, 'uncaught errors in the page').toEqual([]);
  },
});

export { expect };

export async function waitForEngine(page: Page): Promise<void> {
  await expect(page.getByTestId('status-bar')).toHaveAttribute('data-engine-state', 'ready', { timeout: 60_000 });
  await expect(page.getByTestId('pack-name')).not.toContainText('–');
}

/** The ids of the columns that can answer (available, non-extra modes). */
export async function answerModes(page: Page): Promise<string[]> {
  await expect(page.locator('.answer-col').first()).toBeVisible();
  return page.locator('.answer-col:not(.unavailable)').evaluateAll((els) => els.map((e) => (e as HTMLElement).dataset.mode ?? ''));
}

export async function openSample(page: Page, file = SAMPLE_IMAGE): Promise<void> {
  await page.getByTestId('image-input').setInputFiles(file);
  await expect(page.getByTestId('image-preview')).toBeVisible();
}

export async function ask(page: Page, question: string): Promise<void> {
  await page.getByTestId('question').fill(question);
  await page.getByTestId('question').press('Enter');
}

export async function expectAllDone(page: Page, modes: string[], timeout = 60_000): Promise<void> {
  for (const m of modes) {
    const col = page.getByTestId(`answer-${m}`);
    // Settle first (done or error), then fail at once with the column's error text instead of timing out.
    await expect(col).toHaveAttribute('data-status', /^(done|error|stopped)$/, { timeout });
    if ((await col.getAttribute('data-status')) !== 'done') throw new Error(`column ${m} did not answer: ${await col.innerText()}`);
    await expect(page.getByTestId(`text-${m}`)).not.toBeEmpty();
  }
}
