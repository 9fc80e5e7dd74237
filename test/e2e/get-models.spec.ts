/**
 * Models → Get models in web mode, against a local stand-in for the Hub
 * (test/unit/hub/hub-server.ts) serving the family fixtures' SD 1.5 and CLIP
 * exports: download the SD export with progress, stop it midway and resume
 * it (the hub sees a Range request: the partial file was kept), download
 * CLIP, compose both into a pack and open it, and see its feature maps.
 * The engine gets the catalog, endpoint and cache through its environment
 * (TWINLENS_CATALOG, HF_ENDPOINT, TWINLENS_CACHE), so this test starts its
 * own server.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { startFakeHub } from '../unit/hub/hub-server.js';
import { ROOT, SAMPLE_IMAGE, expect, startBuiltServer, test, waitForEngine } from './fixtures.js';

const FAM = path.join(ROOT, 'test', 'fixtures', 'families');
const REPO = 'twinlens-test/families';

function filesOf(folder: string): Record<string, { content: Buffer; lfs: boolean }> {
  const out: Record<string, { content: Buffer; lfs: boolean }> = {};
  for (const rel of fs.readdirSync(path.join(FAM, folder), { recursive: true }) as string[]) {
    const abs = path.join(FAM, folder, rel);
    if (fs.statSync(abs).isFile())
      out[`${folder}/${rel.split(path.sep).join('/')}`] = { content: fs.readFileSync(abs), lfs: abs.endsWith('.pb') || abs.endsWith('.onnx') };
  }
  return out;
}

test('Get models: download with progress, stop and resume, compose SD + CLIP, open, see feature maps', async ({ page }) => {
  test.setTimeout(180_000);
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'twinlens-e2e-get-models-'));
  const sd = filesOf('sd15-diffusers');
  const clip = filesOf('clip-vit-transformersjs');
  const hub = await startFakeHub(REPO, { ...sd, ...clip });
  const catalog = path.join(work, 'catalog.json');
  fs.writeFileSync(
    catalog,
    JSON.stringify([
      {
        id: 'tiny-sd15',
        title: 'Tiny SD 1.5 (fixture)',
        role: 'sd',
        repo: REPO,
        files: Object.keys(sd),
        folder: 'sd15-diffusers',
        bytes: 1_500_000,
        adds: 'feature maps',
      },
      {
        id: 'tiny-clip',
        title: 'Tiny CLIP (fixture)',
        role: 'clip',
        repo: REPO,
        files: Object.keys(clip),
        folder: 'clip-vit-transformersjs',
        bytes: 270_000,
        adds: 'CLIP maps',
      },
    ]),
  );
  const saved = { ...process.env };
  Object.assign(process.env, { TWINLENS_CATALOG: catalog, HF_ENDPOINT: hub.url, TWINLENS_CACHE: path.join(work, 'cache', 'hub') });
  const server = await startBuiltServer();
  try {
    await page.goto(server.url);
    await waitForEngine(page);
    await page.getByTestId('tab-models').click();
    const sdRow = page.getByTestId('catalog-tiny-sd15');
    await expect(sdRow).toContainText('Tiny SD 1.5');

    // Slow the hub down (16 kB every 60 ms), start, and stop while the UNet graph (660 kB, ≈ 2.5 s at that
    // pace) is coming: a stop between two files, or inside a small one, would leave no partial file to resume.
    hub.faults = { chunkDelayMs: 60 };
    const BIG = '/cdn/twinlens-test/families/main/sd15-diffusers/unet/model.onnx';
    await page.getByTestId('catalog-get-tiny-sd15').click();
    await expect(sdRow).toHaveAttribute('data-status', 'downloading');
    await expect(page.getByTestId('catalog-msg-tiny-sd15')).toContainText(/\d+(\.\d+)? (kB|KB|KiB|MB|MiB) of/, { timeout: 30_000 });
    await expect.poll(() => hub.requests.some((r) => r.url === BIG && !r.range), { timeout: 60_000 }).toBe(true);
    await page.waitForTimeout(500);
    await page.getByTestId('catalog-stop-tiny-sd15').click();
    await expect(sdRow).toHaveAttribute('data-status', 'stopped', { timeout: 30_000 });

    // Resume at full speed: the partial file is continued with a Range request, then verified.
    hub.faults = {};
    const before = hub.requests.length;
    await page.getByTestId('catalog-get-tiny-sd15').click();
    await expect(sdRow).toHaveAttribute('data-status', 'done', { timeout: 60_000 });
    expect(hub.requests.slice(before).some((r) => r.url === BIG && r.range && !/^bytes=0-0?$/.test(r.range))).toBe(true);
    await expect(page.getByTestId('catalog-msg-tiny-sd15')).toContainText('verified');

    await page.getByTestId('catalog-get-tiny-clip').click();
    await expect(page.getByTestId('catalog-tiny-clip')).toHaveAttribute('data-status', 'done', { timeout: 60_000 });

    await page.getByTestId('catalog-compose').click();
    await expect(page.getByTestId('pack-name')).toContainText('tiny-sd15+tiny-clip', { timeout: 60_000 });
    expect(fs.existsSync(path.join(work, 'cache', 'packs', 'tiny-sd15+tiny-clip', 'pack.json'))).toBe(true);

    await page.getByTestId('tab-features').click();
    await page.getByTestId('features-input-a').setInputFiles(SAMPLE_IMAGE);
    await expect(page.getByTestId('features-view')).toHaveAttribute('data-status', 'done', { timeout: 60_000 });
    await expect(page.getByTestId('panel-clip-pca-0')).toBeVisible();
  } finally {
    await server.close();
    await hub.close();
    process.env = saved;
    fs.rmSync(work, { recursive: true, force: true });
  }
});
