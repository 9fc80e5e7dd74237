/**
 * The Features view in web mode on the real engine (tiny fixture pack):
 * layer browser and timestep scrubber recompute, a point clicked on image A
 * gives correspondence maps for CLIP and the tap in image B (two-image
 * mode, with the pair's similarity numbers), and the exports download real
 * files: a panel PNG and a figure sheet as PNG + SVG with labels.
 * (The README screenshot: showcase.spec.ts, on mini-world.)
 */
import * as fs from 'node:fs';
import type { Download, Page } from '@playwright/test';
import { SAMPLE_IMAGE, SAMPLE_IMAGE_B, expect, test } from './fixtures.js';

const PNG_MAGIC = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

async function generation(page: Page): Promise<number> {
  return Number(await page.getByTestId('features-view').getAttribute('data-generation'));
}

/** Waits for a result newer than `after`, then for the view to settle. */
async function nextResult(page: Page, after: number): Promise<void> {
  await expect.poll(() => generation(page), { timeout: 60_000 }).toBeGreaterThan(after);
  await expect(page.getByTestId('features-view')).toHaveAttribute('data-status', 'done');
}

async function saved(d: Download): Promise<Buffer> {
  const file = await d.path();
  return fs.readFileSync(file);
}

test('Features view: layers, t, correspondence, exports', async ({ app }) => {
  await app.getByTestId('tab-features').click();
  await expect(app.getByTestId('features-view')).toBeVisible();
  await app.getByTestId('features-input-a').setInputFiles(SAMPLE_IMAGE);
  await app.getByTestId('features-prompt').fill('what colour is the circle');

  // First result: image, CLIP PCA, diffusion PCA, branches, difference, word strip.
  await nextResult(app, 0);
  const tap = 'U-L1-R1-B0-Cross-Q';
  await expect(app.getByTestId(`panel-pca-${tap}-0`)).toBeVisible();
  await expect(app.getByTestId('panel-clip-pca-0')).toBeVisible();
  await expect(app.getByTestId(`panel-cond-pca-${tap}-0`)).toBeVisible();
  await expect(app.getByTestId(`panel-uncond-pca-${tap}-0`)).toBeVisible();
  await expect(app.getByTestId(`panel-difference-${tap}-0`)).toBeVisible();
  await expect(app.getByTestId('attention-row-0').locator('.panel')).not.toHaveCount(0);
  await expect(app.getByTestId('features-settings')).toContainText('t = 50');
  // The layer browser lists the study's layers first, with the shape once known.
  const first = app.getByTestId('layer-list').getByRole('option').first();
  await expect(first).toContainText('★');
  await expect(app.getByTestId(`layer-${tap}`)).toContainText(/\d+×\d+×\d+/);

  // Hover shows token coordinates and values.
  await app
    .getByTestId(`panel-pca-${tap}-0`)
    .locator('.panel-img')
    .hover({ position: { x: 10, y: 10 } });
  await expect(app.getByTestId(`hover-pca-${tap}-0`)).toContainText(/token \(0, 0\) · PC1 /);

  // Switch the layer, then the timestep: each recomputes.
  let g = await generation(app);
  const other = 'U-L2-R2-Res-Out';
  await app.getByTestId(`layer-${other}`).click();
  await nextResult(app, g);
  await expect(app.getByTestId(`panel-pca-${other}-0`)).toBeVisible();
  g = await generation(app);
  await app.getByTestId('features-t-250').click();
  await nextResult(app, g);
  await expect(app.getByTestId('features-settings')).toContainText('t = 250');
  await expect(app.getByTestId('features-t-value')).toHaveText('250');

  // Two-image mode: open B, click a point on A, see correspondence for CLIP and the tap.
  await app.getByTestId('pair-mode').check();
  g = await generation(app);
  await app.getByTestId('features-input-b').setInputFiles(SAMPLE_IMAGE_B);
  await nextResult(app, g);
  await expect(app.getByTestId(`panel-pca-${other}-1`)).toBeVisible();
  await expect(app.getByTestId('similarity')).toContainText('CLIP');
  await expect(app.getByTestId('similarity')).toContainText(other);
  g = await generation(app);
  await app
    .getByTestId('panel-image-0')
    .locator('.panel-img')
    .click({ position: { x: 60, y: 60 } });
  await nextResult(app, g);
  const corr = app.getByTestId('correspondence');
  await expect(corr.getByTestId('panel-correspondence-clip')).toBeVisible();
  await expect(corr.getByTestId(`panel-correspondence-${other}`)).toBeVisible();
  await expect(corr.getByTestId(`hover-correspondence-${other}`)).toContainText(/best \(\d+, \d+\) · cosine -?\d\.\d{3}/);
  await expect(app.getByTestId('panel-image-0').locator('.marker')).toBeVisible();

  await app.evaluate(() => document.documentElement.setAttribute('data-theme', 'light'));

  // Export one panel as PNG.
  const [png] = await Promise.all([app.waitForEvent('download'), app.getByTestId(`export-png-pca-${other}-0`).click()]);
  expect(png.suggestedFilename()).toMatch(/\.png$/);
  const pngBytes = await saved(png);
  expect(pngBytes.length).toBeGreaterThan(0);
  expect(pngBytes.subarray(0, 8).equals(PNG_MAGIC)).toBe(true);

  // A figure sheet (the pair sheet here): PNG + SVG with labels.
  const downloads: Download[] = [];
  app.on('download', (d) => downloads.push(d));
  await app.getByTestId('export-sheet').click();
  await expect.poll(() => downloads.length, { timeout: 60_000 }).toBe(2);
  const sheetPng = downloads.find((d) => d.suggestedFilename().endsWith('.png'))!;
  const sheetSvg = downloads.find((d) => d.suggestedFilename().endsWith('.svg'))!;
  expect((await saved(sheetPng)).subarray(0, 8).equals(PNG_MAGIC)).toBe(true);
  const svg = (await saved(sheetSvg)).toString('utf8');
  expect(svg).toContain('<svg');
  expect(svg).toMatch(/<text[^>]*>[^<]+<\/text>/);
  expect(svg).toContain(other);
});

test('Features view: a layers × timesteps sheet for one image', async ({ app }) => {
  await app.getByTestId('tab-features').click();
  await app.getByTestId('features-input-a').setInputFiles(SAMPLE_IMAGE);
  await nextResult(app, 0);
  const downloads: Download[] = [];
  app.on('download', (d) => downloads.push(d));
  await app.getByTestId('export-sheet').click();
  await expect.poll(() => downloads.length, { timeout: 60_000 }).toBe(2);
  const svg = (await saved(downloads.find((d) => d.suggestedFilename().endsWith('.svg'))!)).toString('utf8');
  expect(svg).toContain('>t = 10</text>');
  expect(svg).toContain('>t = 250</text>');
  const png = await saved(downloads.find((d) => d.suggestedFilename().endsWith('.png'))!);
  expect(png.length).toBeGreaterThan(100);
});
