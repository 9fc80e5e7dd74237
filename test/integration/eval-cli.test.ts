/**
 * `twinlens eval` and `twinlens leakage` as a user runs them on the tiny
 * pack: a summary file plus its resumable results file; two shards in
 * separate engine processes merged into the same summary; an item diff; a
 * malformed suite failing with file:line and exit 2. (Stop-and-resume is
 * covered in-process by eval.test.ts and, for a torn last line, by the unit
 * tests: every CLI call here costs an engine start.)
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { comparable } from '../../src/engine/eval/summary.js';
import { FIXTURES, ROOT, TINY } from '../helpers/fixtures.js';

const SUITE = path.join(FIXTURES, 'suites', 'tiny-shapes.jsonl');
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'twinlens-eval-cli-'));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

function twinlens(args: string[]) {
  const r = spawnSync(process.execPath, [path.join(ROOT, 'bin', 'twinlens.js'), ...args], {
    encoding: 'utf8',
    timeout: 120_000,
    env: { ...process.env, TWINLENS_FROM_SOURCE: '1' },
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}
const run = (extra: string[]) => twinlens(['eval', '--pack', TINY, '--suite', SUITE, '--max-tokens', '6', '--provider', 'cpu', ...extra]);
const read = (f: string) => JSON.parse(fs.readFileSync(f, 'utf8'));

describe('twinlens eval / leakage', () => {
  // Each CLI call starts an engine; on a loaded 2-core machine that is slow, hence the generous timeouts.
  let summary: any;
  const out = path.join(dir, 'run.json');

  it('writes a summary and its resumable results file', () => {
    const r = run(['--out', out, '--json']);
    expect(r.code, r.stderr).toBe(0);
    summary = JSON.parse(r.stdout);
    expect(read(out)).toEqual(summary);
    expect(summary).toMatchObject({ format: 'twinlens-eval', complete: true, modes: ['clip', 'diffusion', 'fused'], suite: { name: 'tiny-shapes', items: 8 } });
    expect(summary.results[0].modes.clip).toMatchObject({ n: 8, pairs: { n: 3 } });
    expect(fs.readFileSync(path.join(dir, 'run.results.jsonl'), 'utf8').trim().split('\n')).toHaveLength(9);
  }, 120_000);

  it('runs two shards in two processes that merge to the same summary; diff finds no change', () => {
    const shards = [1, 2].map((i) => path.join(dir, `shard${i}.jsonl`));
    for (const [i, f] of shards.entries()) expect(run(['--shard', `${i + 1}/2`, '--out', f, '--no-progress']).code).toBe(0);
    const merged = twinlens(['eval', '--merge', ...shards, '--out', path.join(dir, 'all.json'), '--json']);
    expect(merged.code, merged.stderr).toBe(0);
    expect(JSON.parse(merged.stdout).shards).toEqual([1, 2]);
    expect(comparable(JSON.parse(merged.stdout))).toEqual(comparable(summary));

    const diff = twinlens(['eval', '--diff', out, shards[0], '--json']);
    expect(diff.code, diff.stderr).toBe(0);
    const cells = JSON.parse(diff.stdout).cells;
    expect(cells.map((c: { mode: string }) => c.mode)).toEqual(['clip', 'diffusion', 'fused']);
    for (const c of cells) expect(c).toMatchObject({ onlyA: 0, onlyB: 0, unmatched: 4, mcnemarP: 1 });
  }, 180_000);

  it('fails with file:line and exit 2 on a malformed suite', () => {
    const bad = path.join(dir, 'bad.jsonl');
    fs.writeFileSync(bad, '{"image": "nope.png", "question": "q", "answer": "a"}\n');
    const r = twinlens(['eval', '--pack', TINY, '--suite', bad]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/INVALID_ARGUMENT.*bad\.jsonl:1: image not found/);
  });

  it('prints a leakage report with --json', () => {
    const r = twinlens([
      'leakage',
      '--pack',
      TINY,
      '--suite',
      SUITE,
      '--modes',
      'diffusion',
      '--guidance',
      '1,4',
      '--limit',
      '3',
      '--max-tokens',
      '4',
      '--provider',
      'cpu',
      '--json',
      '--summary-only',
    ]);
    expect(r.code, r.stderr).toBe(0);
    const rep = JSON.parse(r.stdout);
    expect(rep).toMatchObject({ format: 'twinlens-leakage', modes: ['diffusion'], guidance: [1, 4], evaluated: 3, mismatchFrom: 'question' });
    expect(Object.keys(rep.rows[0].modes.diffusion)).toEqual(['matched', 'empty', 'mismatched', 'gap', 'leakage', 'towardPartnerAnswer', 'errors']);
    expect(rep.items).toBeUndefined();
  }, 120_000);
});
