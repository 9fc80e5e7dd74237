/**
 * `twinlens export --sheet` on the tiny fixture pack as a user runs it: two
 * images, two taps, two timesteps. It must write labelled sheets (PNG + SVG)
 * per image and for the pair, tensors that numpy reads back bit-exactly
 * (.npy directly, .safetensors through json + numpy.frombuffer) and that obey
 * f = f_u + s·(f_c − f_u), and sidecars that record image hash, pack, tap, t,
 * s, prompt and seed. A second identical run must skip everything.
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import sharp from 'sharp';
import { afterAll, describe, expect, it } from 'vitest';
import { ROOT, SAMPLE, SAMPLE_B, TINY } from '../helpers/fixtures.js';
import { hasNumpy, PY } from '../helpers/python.js';

function twinlens(args: string[], timeout = 120_000) {
  const r = spawnSync(process.execPath, [path.join(ROOT, 'bin', 'twinlens.js'), ...args], {
    encoding: 'utf8',
    timeout,
    env: { ...process.env, TWINLENS_FROM_SOURCE: '1' },
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

const out = fs.mkdtempSync(path.join(os.tmpdir(), 'twinlens-export-'));
afterAll(() => fs.rmSync(out, { recursive: true, force: true }));

const QUESTION = 'what colour is the circle';
const ARGS = [
  'export',
  '--pack',
  TINY,
  '--image',
  SAMPLE,
  '--image',
  SAMPLE_B,
  '--question',
  QUESTION,
  '--taps',
  'U-L1-R1-B0-Cross-Q,U-L2-R2-Res-Out',
  '--t',
  '10,50',
  '--size',
  '96',
  '--out',
  out,
  '--sheet',
  '--json',
];

describe('twinlens export', () => {
  it('rejects bad options with a one-line reason and exit 2', () => {
    const bad = twinlens(['export', '--pack', TINY, '--image', SAMPLE, '--out', out, '--formats', 'npy,tiff']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/INVALID_ARGUMENT.*unknown format "tiff"/);
  });

  let first: any;
  it('writes sheets, tensors, panels and sidecars', async () => {
    const r = twinlens(ARGS);
    expect(r.code, r.stderr).toBe(0);
    first = JSON.parse(r.stdout);
    expect(first).toMatchObject({ failed: 0, extractions: 4, settings: { pack: 'tiny', guidance: 4, seed: 0, timesteps: [10, 50] } });
    expect(r.stderr).toMatch(/100%/); // the progress bar reached the end
    const dir = path.join(out, 'sample');
    for (const f of [
      'sheet.png',
      'sheet.svg',
      'sheet.json',
      'clip.safetensors',
      'clip_pca.png',
      'cross-attention_t50.npy',
      'U-L1-R1-B0-Cross-Q_t50_s4_diff.png',
    ])
      expect(fs.existsSync(path.join(dir, f)), f).toBe(true);
    const meta = await sharp(path.join(dir, 'sheet.png')).metadata();
    const side = JSON.parse(fs.readFileSync(path.join(dir, 'sheet.json'), 'utf8'));
    expect([meta.width, meta.height]).toEqual([side.width, side.height]);
    const svg = fs.readFileSync(path.join(dir, 'sheet.svg'), 'utf8');
    for (const label of ['U-L1-R1-B0-Cross-Q', 'U-L2-R2-Res-Out', 't = 10', 't = 50', 'cond − uncond']) expect(svg).toContain(`>${label}</text>`);
    expect(svg.match(/<image /g)?.length).toBeGreaterThanOrEqual(2 * 2 * 2 + 2);
    expect(first.pair.files.map((f: string) => path.basename(f)).sort()).toEqual([
      'pair_sample_sample-b.json',
      'pair_sample_sample-b.png',
      'pair_sample_sample-b.svg',
    ]);
    for (const k of ['clip', 'U-L1-R1-B0-Cross-Q', 'U-L2-R2-Res-Out']) {
      expect(first.pair.similarity[k].tokenwise).toBeGreaterThan(-1);
      expect(first.pair.similarity[k].pooled).toBeLessThanOrEqual(1 + 1e-9);
    }

    const tap = JSON.parse(fs.readFileSync(path.join(dir, 'U-L1-R1-B0-Cross-Q_t50_s4.json'), 'utf8'));
    expect(tap).toMatchObject({
      kind: 'tap',
      pack: 'tiny',
      tap: 'U-L1-R1-B0-Cross-Q',
      t: 50,
      guidance: 4,
      seed: 0,
      ensemble: 1,
      prompt: QUESTION,
      shape: [16, 24],
      height: 4,
      width: 4,
    });
    expect(tap.imageHash).toBe(createHash('sha256').update(fs.readFileSync(SAMPLE)).digest('hex'));
    expect(tap.regenerate).toMatch(
      /^npx twinlens export --pack \S+ --image \S+ --question 'what colour is the circle' --taps U-L1-R1-B0-Cross-Q,U-L2-R2-Res-Out --t 50 --guidance 4 --seed 0/,
    );
    expect(tap.extraction).toEqual({ taps: ['U-L1-R1-B0-Cross-Q', 'U-L2-R2-Res-Out'], crossAttention: true });
  });

  it('the sidecar command regenerates the tensors bit-for-bit', () => {
    const side = JSON.parse(fs.readFileSync(path.join(out, 'sample', 'U-L1-R1-B0-Cross-Q_t50_s4.json'), 'utf8'));
    const again = path.join(out, 'regenerated');
    // Split the shell command ('…' quoting only, as written by regenerateCommand).
    const args = [...(side.regenerate as string).matchAll(/'((?:[^']|'\\'')*)'|(\S+)/g)].map((m) => (m[1] !== undefined ? m[1].replace(/'\\''/g, "'") : m[2]));
    expect(args.slice(0, 3)).toEqual(['npx', 'twinlens', 'export']);
    const r = twinlens([...args.slice(2).map((a) => (a === '<dir>' ? again : a)), '--formats', 'safetensors', '--no-progress']);
    expect(r.code, r.stderr).toBe(0);
    for (const f of ['U-L1-R1-B0-Cross-Q_t50_s4.safetensors', 'U-L2-R2-Res-Out_t50_s4.safetensors', 'cross-attention_t50.safetensors']) {
      expect(fs.readFileSync(path.join(again, 'sample', f)).equals(fs.readFileSync(path.join(out, 'sample', f))), f).toBe(true);
    }
  });

  it.skipIf(!hasNumpy)('tensors read back bit-exactly in numpy and obey the guidance formula', () => {
    const base = path.join(out, 'sample', 'U-L1-R1-B0-Cross-Q_t50_s4');
    const script = `
import json, struct, sys, numpy as np
base = sys.argv[1]
raw = open(base + '.safetensors', 'rb').read()
n = struct.unpack('<Q', raw[:8])[0]
h = json.loads(raw[8:8 + n])
st = {k: np.frombuffer(raw[8 + n + v['data_offsets'][0]:8 + n + v['data_offsets'][1]], dtype='<f4').reshape(v['shape']) for k, v in h.items() if k != '__metadata__'}
npy = {'guided': np.load(base + '.npy'), 'cond': np.load(base + '_cond.npy'), 'uncond': np.load(base + '_uncond.npy')}
same = all(st[k].tobytes() == npy[k].tobytes() and st[k].shape == npy[k].shape for k in npy)
s = float(h['__metadata__']['guidance'])
g = npy['uncond'].astype(np.float64) + s * (npy['cond'].astype(np.float64) - npy['uncond'].astype(np.float64))
print(json.dumps({'same': same, 'shape': list(st['guided'].shape), 'err': float(np.abs(g - npy['guided']).max()), 'scale': float(np.abs(npy['guided']).max()), 'meta': h['__metadata__']}))
`;
    const r = spawnSync(PY, ['-c', script, base], { encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    const res = JSON.parse(r.stdout);
    expect(res.same).toBe(true);
    expect(res.shape).toEqual([16, 24]);
    expect(res.err).toBeLessThan(1e-4 * Math.max(1, res.scale));
    expect(res.meta).toMatchObject({ pack: 'tiny', tap: 'U-L1-R1-B0-Cross-Q', t: '50', seed: '0', prompt: QUESTION });
  });

  it('a second run skips everything', () => {
    const sheet = path.join(out, 'sample', 'sheet.png');
    const before = fs.statSync(sheet).mtimeMs;
    const r = twinlens(ARGS);
    expect(r.code, r.stderr).toBe(0);
    const s = JSON.parse(r.stdout);
    expect(s).toMatchObject({ written: 0, extractions: 0, failed: 0 });
    expect(s.skipped).toBe(first.skipped + first.images.length * (2 * 2 + 2 + 1 + 1));
    expect(s.pair.skipped).toBe(true);
    expect(fs.statSync(sheet).mtimeMs).toBe(before);
  });
});
