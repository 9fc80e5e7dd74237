/**
 * The "done when", as a user types it: `twinlens packs import` and
 * `twinlens packs validate` on every family fixture, `twinlens packs
 * estimate`, and `twinlens pull` downloading from a local Hub stand-in,
 * interrupted in one run and resumed by the next (a restart, not a retry
 * inside one process).
 */
import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT } from '../helpers/fixtures.js';
import { type FakeHub, bytes, startFakeHub } from '../unit/hub/hub-server.js';

const FAM = path.join(ROOT, 'test', 'fixtures', 'families');
const WORK = path.join(ROOT, '.cache', `test-importers-cli-${process.pid}`);

/** Runs the CLI without blocking this process (the fake Hub answers from here). */
function twinlens(args: string[], env: Record<string, string> = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [path.join(ROOT, 'bin', 'twinlens.js'), ...args],
      { encoding: 'utf8', timeout: 120_000, env: { ...process.env, TWINLENS_FROM_SOURCE: '1', ...env } },
      (err, stdout, stderr) => {
        resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr });
      },
    );
  });
}

afterAll(() => fs.rmSync(WORK, { recursive: true, force: true }));

describe('twinlens packs import / validate / estimate', () => {
  it('imports and validates every family fixture', async () => {
    const runs = [
      ['sd15', ['--sd', 'sd15-diffusers', '--clip', 'clip-vit-transformersjs', '--llm', 'llava-qwen-transformersjs', '--projectors', 'projectors']],
      ['sd21', ['--sd', 'sd21-optimum']],
      ['olive', ['--sd', 'sd15-olive-fp16', '--clip', 'clip-vit-transformersjs']],
    ] as const;
    const results = await Promise.all(
      runs.map(async ([name, flags]) => {
        const args = flags.map((f, i) => (i % 2 ? path.join(FAM, f) : f));
        return { name, r: await twinlens(['packs', 'import', ...args, '--out', path.join(WORK, name), '--json']) };
      }),
    );
    for (const { name, r } of results) {
      expect(r.code, `${name}: ${r.stderr}`).toBe(0);
      const report = JSON.parse(r.stdout);
      expect(report.usable, name).toBe(true);
    }
    const olive = JSON.parse(results[2].r.stdout);
    expect(olive.capabilities.find((c: { id: string }) => c.id === 'cross-attention')).toMatchObject({ available: false });
    const v = await Promise.all(results.map(({ name }) => twinlens(['packs', 'validate', path.join(WORK, name)])));
    for (const r of v) {
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout).toMatch(/Usable\./);
    }
    const text = await twinlens(['packs', 'import', '--llm', path.join(FAM, 'llava-qwen-transformersjs'), '--out', path.join(WORK, 'llm'), '--no-validate']);
    expect(text.code, text.stderr).toBe(0);
    expect(text.stdout).toMatch(/✗ Feature maps .* — the pack has no Stable Diffusion model/);
    expect(text.stdout).toMatch(/✓ Answer mode native/);
  }, 240_000);

  it('estimates memory and the tap cost, and says when a pack does not fit', async () => {
    const ok = await twinlens(['packs', 'estimate', path.join(WORK, 'sd15'), '--tap', 'D-L2-R0-B0-Cross-Q']);
    expect(ok.code, ok.stderr).toBe(0);
    expect(ok.stdout).toMatch(/UNet cost of tap D-L2-R0-B0-Cross-Q .*MMAC of .*MMAC per batched pass \(\d+ %\)/);
    expect(ok.stdout).toMatch(/llm\.decoder .* \(KV cache for 512 tokens\)/);
    const tight = await twinlens(['packs', 'estimate', path.join(WORK, 'sd15'), '--json'], { TWINLENS_MEMORY_LIMIT: '1000000' });
    expect(JSON.parse(tight.stdout).fits).toBe(false);
  }, 120_000);

  it('refuses a bad flag and an empty import with exit 2', async () => {
    const r = await twinlens(['packs', 'import', '--out', path.join(WORK, 'none')]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/Nothing to import/);
  });
});

describe('twinlens pull', () => {
  let hub: FakeHub;
  const weights = bytes(400_000, 11);
  beforeAll(async () => {
    hub = await startFakeHub('tiny-org/sd', { 'unet/weights.pb': { content: weights, lfs: true }, 'unet/config.json': { content: Buffer.from('{}\n') } });
  });
  afterAll(() => hub.close());

  it('downloads from the endpoint, is interrupted, and resumes in the next run', async () => {
    const cache = fs.mkdtempSync(path.join(os.tmpdir(), 'tl-pull-cli-'));
    try {
      hub.faults = { cutAfter: { 'unet/weights.pb': 150_000 } };
      const args = ['pull', 'tiny-org/sd', '--files', 'unet/weights.pb,unet/config.json', '--endpoint', hub.url, '--cache', cache, '--no-xet'];
      const first = await twinlens(args);
      expect(first.code).toBe(1);
      expect(first.stderr).toMatch(/connection (failed|closed) after \d+ of 400000 bytes.*resumes from the partial file/);
      hub.faults = {};
      hub.requests.length = 0;
      const second = await twinlens(args);
      expect(second.code, second.stderr).toBe(0);
      expect(second.stdout).toMatch(/✓ unet\/weights\.pb {2}400 kB {2}resumed at \d+ kB/);
      expect(second.stdout).toMatch(/✓ unet\/config\.json .*(downloaded|cached)/);
      expect(second.stderr).toMatch(/ETA/);
      expect(hub.requests.some((q) => /^bytes=[1-9]\d*-399999$/.test(q.range ?? ''))).toBe(true);
      const file = path.join(cache, 'tiny-org--sd', 'main', 'unet', 'weights.pb');
      expect(fs.readFileSync(file).equals(weights)).toBe(true);
      const json = JSON.parse((await twinlens([...args, '--json'])).stdout);
      expect(json.files.every((f: { cached: boolean }) => f.cached)).toBe(true);
    } finally {
      fs.rmSync(cache, { recursive: true, force: true });
    }
  }, 120_000);
});
