/**
 * The desktop app, end to end, through Playwright's Electron driver: the
 * same flow as the web-mode spec (open the sample image, ask, three
 * answers) plus what only Electron has: the preload's exact API, the
 * sandboxed renderer, and the engine in a utilityProcess.
 *
 * The Electron binary cannot be downloaded on our CI machines, so this spec
 * is skipped there, saying why; it runs wherever `node_modules/electron/dist`
 * exists.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { _electron as electron } from '@playwright/test';
import { CONTRACT_METHODS } from '../../src/shared/contract.js';
import { PACK, ROOT, SAMPLE_IMAGE, answerModes, ask, expect, expectAllDone, test } from './fixtures.js';

const ELECTRON_DIST = path.join(ROOT, 'node_modules', 'electron', 'dist');

test.describe('desktop app (Electron)', () => {
  test.skip(!fs.existsSync(ELECTRON_DIST), 'Electron binary not installed (node_modules/electron/dist missing)');

  test('answers in three columns with the locked-down preload', async () => {
    test.setTimeout(180_000);
    const userData = fs.mkdtempSync(path.join(os.tmpdir(), 'twinlens-e2e-'));
    const app = await electron.launch({
      args: ['--no-sandbox', ROOT, '--pack', PACK],
      env: { ...process.env, TWINLENS_USER_DATA: userData, TWINLENS_PACK: PACK },
      timeout: 60_000,
    });
    try {
      const page = await app.firstWindow();
      await expect(page.getByTestId('status-bar')).toHaveAttribute('data-engine-state', 'ready', { timeout: 90_000 });

      const surface = await page.evaluate(() => ({
        keys: Object.keys((window as unknown as { twinlens: object }).twinlens).sort(),
        require: typeof (window as unknown as { require?: unknown }).require,
        process: typeof (window as unknown as { process?: unknown }).process,
      }));
      expect(surface.keys).toEqual([...CONTRACT_METHODS, 'cancel', 'subscribe'].sort());
      expect(surface.require).toBe('undefined');
      expect(surface.process).toBe('undefined');

      // Sandboxed and isolated: the page is on app://, and the API object is a frozen copy, not the preload's own.
      expect(page.url()).toBe('app://twinlens/index.html');
      expect(await page.evaluate(() => Object.isFrozen((window as unknown as { twinlens: object }).twinlens))).toBe(true);

      // A forged call with bad arguments is refused by the main process' schema check.
      const forged = await page.evaluate(() => (window as unknown as { twinlens: { openPack(p: unknown): Promise<unknown> } }).twinlens.openPack({ dir: 42 }));
      expect(forged).toMatchObject({ ok: false, error: { code: 'INVALID_ARGUMENT' } });

      await page.getByTestId('image-input').setInputFiles(SAMPLE_IMAGE);
      const modes = await answerModes(page);
      await ask(page, 'what color is the cube?');
      await expectAllDone(page, modes);
    } finally {
      await app.close();
      fs.rmSync(userData, { recursive: true, force: true });
    }
  });
});
