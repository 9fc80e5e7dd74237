/**
 * End-to-end tests of the real workbench. Web mode runs everywhere: the
 * built renderer (dist/renderer) served by the real server (dist/server)
 * with a real engine process on the tiny fixture pack, driven in Debian's
 * Chromium (Playwright's own browsers cannot be downloaded here). The
 * Electron spec runs only where an Electron binary is installed.
 *
 * One worker: the machines have 2 cores and the engine process needs one.
 */
import * as fs from 'node:fs';
import { defineConfig } from '@playwright/test';

const chromium = process.env.TWINLENS_CHROMIUM ?? '/usr/bin/chromium';

export default defineConfig({
  testDir: 'test/e2e',
  testMatch: /.*\.spec\.ts$/,
  timeout: 90_000,
  expect: { timeout: 30_000 },
  workers: 1,
  fullyParallel: false,
  retries: process.env.CI ? 1 : 0,
  reporter: [['list']],
  outputDir: 'test-results',
  use: {
    browserName: 'chromium',
    headless: true,
    viewport: { width: 1280, height: 800 },
    actionTimeout: 15_000,
    trace: 'retain-on-failure',
    launchOptions: {
      ...(fs.existsSync(chromium) ? { executablePath: chromium } : {}),
      args: [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
        '--no-first-run',
      ],
    },
  },
});
