/**
 * The README's screenshots, taken on the built-in mini-world pack (real
 * answers, real maps, real accuracies), not on the random tiny fixture the
 * other end-to-end specs use: the Ask view on a sample where the
 * diffusion-reading modes see what CLIP-only misses (from
 * assets/samples/samples.json, which the pack's training measured), the
 * Features view on the same image and question, and the Eval view on the
 * first 60 items of the pack's test suite. Also the README's tour
 * (docs/tour/): open an image → ask and compare → look inside → export a
 * figure → measure.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { type Download, test as base } from '@playwright/test';
import { ROOT, type RunningServer, expect, startBuiltServer, waitForEngine } from './fixtures.js';

const SCREENSHOTS = path.join(ROOT, 'docs', 'screenshots');
const TOUR = path.join(ROOT, 'docs', 'tour');
const MINI_WORLD = path.join(ROOT, 'models', 'mini-world');

interface Sample {
  image: string;
  question: string;
  correct_modes: string[];
}

const test = base.extend<object, { miniWorld: RunningServer }>({
  miniWorld: [
    // eslint-disable-next-line no-empty-pattern -- Playwright needs the destructuring to see no dependencies
    async ({}, use) => {
      const server = await startBuiltServer(MINI_WORLD);
      await use(server);
      await server.close();
    },
    { scope: 'worker', timeout: 120_000 },
  ],
});

/** A sample the diffusion-reading modes answer and CLIP-only does not, else the first. */
function showcaseSample(): Sample {
  const { samples } = JSON.parse(fs.readFileSync(path.join(ROOT, 'assets', 'samples', 'samples.json'), 'utf8')) as { samples: Sample[] };
  return samples.find((s) => !s.correct_modes.includes('clip') && s.correct_modes.some((m) => m !== 'clip')) ?? samples[0];
}

test('screenshots of the Ask, Features and Eval views on the mini-world pack', async ({ page, miniWorld }) => {
  test.setTimeout(240_000);
  const sample = showcaseSample();
  const image = path.join(ROOT, 'assets', 'samples', sample.image);
  await page.goto(miniWorld.url);
  await waitForEngine(page);
  await expect(page.getByTestId('pack-name')).toContainText('mini-world');

  fs.mkdirSync(TOUR, { recursive: true });
  await page.evaluate(() => document.documentElement.setAttribute('data-theme', 'light'));
  // Ask: the four honest modes side by side.
  await page.getByTestId('image-input').setInputFiles(image);
  await expect(page.getByTestId('image-preview')).toBeVisible();
  await page.getByTestId('question').fill(sample.question);
  await page.screenshot({ path: path.join(TOUR, '1-open-image.png') });
  await page.getByTestId('question').press('Enter');
  const cols = page.locator('.answer-col:not(.unavailable)');
  await expect(cols.first()).toBeVisible();
  for (const col of await cols.all()) await expect(col).toHaveAttribute('data-status', 'done', { timeout: 60_000 });
  for (const m of sample.correct_modes) await expect(page.getByTestId(`text-${m}`)).not.toBeEmpty();
  await expect(page.getByTestId('attention-strip').locator('.attn-tile').first()).toBeVisible({ timeout: 60_000 });
  await page.evaluate(() => document.documentElement.setAttribute('data-theme', 'light'));
  await page.screenshot({ path: path.join(SCREENSHOTS, 'ask-light.png') });
  fs.copyFileSync(path.join(SCREENSHOTS, 'ask-light.png'), path.join(TOUR, '2-ask-and-compare.png'));
  await page.evaluate(() => document.documentElement.setAttribute('data-theme', 'dark'));
  await page.screenshot({ path: path.join(SCREENSHOTS, 'ask-dark.png') });
  await page.evaluate(() => document.documentElement.setAttribute('data-theme', 'light'));

  // Features: PCA maps of CLIP and the tap, cond / uncond / difference, a map per question word.
  await page.getByTestId('tab-features').click();
  await page.getByTestId('features-input-a').setInputFiles(image);
  await page.getByTestId('features-prompt').fill(sample.question);
  await expect.poll(async () => Number(await page.getByTestId('features-view').getAttribute('data-generation')), { timeout: 60_000 }).toBeGreaterThan(0);
  await expect(page.getByTestId('features-view')).toHaveAttribute('data-status', 'done');
  await expect(page.getByTestId('panel-clip-pca-0')).toBeVisible();
  await expect(page.getByTestId('attention-row-0').locator('.panel')).not.toHaveCount(0);
  await page.screenshot({ path: path.join(SCREENSHOTS, 'features.png') });
  fs.copyFileSync(path.join(SCREENSHOTS, 'features.png'), path.join(TOUR, '3-look-inside.png'));
  // Export: the figure sheet (PNG + SVG with labels); the PNG is the tour's fourth picture.
  const downloads: Download[] = [];
  page.on('download', (d) => downloads.push(d));
  await page.getByTestId('export-sheet').click();
  await expect.poll(() => downloads.length, { timeout: 60_000 }).toBe(2);
  const sheet = downloads.find((d) => d.suggestedFilename().endsWith('.png'));
  expect(sheet).toBeDefined();
  await sheet!.saveAs(path.join(TOUR, '4-exported-figure.png'));

  // Eval: the pack's own test suite (built in), first 60 items, the four honest modes.
  await page.getByTestId('tab-eval').click();
  await page.getByTestId('eval-suite').selectOption('mini-world-test');
  await page.getByTestId('eval-limit').fill('60');
  await page.getByTestId('eval-max-tokens').fill('8');
  await page.getByTestId('eval-run').click();
  await expect(page.getByTestId('eval-view')).toHaveAttribute('data-status', 'done', { timeout: 180_000 });
  await expect(page.getByTestId('eval-summary')).toContainText('mini-world-test');
  await expect(page.getByTestId('accuracy-chart').locator('g.bar')).not.toHaveCount(0);
  await page.screenshot({ path: path.join(SCREENSHOTS, 'eval.png') });
  fs.copyFileSync(path.join(SCREENSHOTS, 'eval.png'), path.join(TOUR, '5-measure.png'));
});
