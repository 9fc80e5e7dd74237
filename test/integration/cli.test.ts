/**
 * The `twinlens` command as a user runs it: answers as JSON, feature files
 * that an independent reader (numpy) reads back bit-exactly, and `packs
 * validate` accepting the fixtures and rejecting each broken pack with its
 * reason and a non-zero exit.
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ROOT, SAMPLE, TINY, TINY_FP16 } from '../helpers/fixtures.js';
import { hasNumpy, PY } from '../helpers/python.js';

function twinlens(args: string[], timeout = 120_000) {
  const r = spawnSync(process.execPath, [path.join(ROOT, 'bin', 'twinlens.js'), ...args], {
    encoding: 'utf8',
    timeout,
    env: { ...process.env, TWINLENS_FROM_SOURCE: '1' },
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

const tmps: string[] = [];
function tmpdir(): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'twinlens-cli-'));
  tmps.push(d);
  return d;
}
afterAll(() => {
  for (const d of tmps) fs.rmSync(d, { recursive: true, force: true });
});

/** A copy of the tiny pack with one thing broken. */
function broken(mutate: (dir: string, manifest: Record<string, any>) => void): string {
  const dir = path.join(tmpdir(), 'pack');
  fs.cpSync(TINY, dir, { recursive: true, filter: (src) => !/\.twinlens-/.test(src) && !src.includes(`${path.sep}golden`) });
  const file = path.join(dir, 'pack.json');
  const m = JSON.parse(fs.readFileSync(file, 'utf8'));
  mutate(dir, m);
  if (fs.existsSync(file) && m.__keep !== true) fs.writeFileSync(file, JSON.stringify(m, null, 2));
  return dir;
}

describe('twinlens CLI', () => {
  it('prints help for every command', () => {
    for (const cmd of [[], ['ask'], ['features'], ['extract'], ['packs'], ['packs', 'validate'], ['bench'], ['serve']]) {
      const r = twinlens([...cmd, '--help']);
      expect(r.code, cmd.join(' ')).toBe(0);
      expect(r.stdout).toMatch(/Usage: twinlens/);
    }
  });

  it('ask --mode all --json prints three answers with settings and providers', () => {
    const r = twinlens(['ask', '--pack', TINY, '--image', SAMPLE, '--question', 'what colour is the circle', '--mode', 'all', '--max-tokens', '6', '--json']);
    expect(r.code, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(Object.keys(out.answers).sort()).toEqual(['clip', 'diffusion', 'fused']);
    for (const a of Object.values(out.answers) as Array<{ text: string; ms: number }>) {
      expect(a.text.length).toBeGreaterThan(0);
      expect(a.ms).toBeGreaterThanOrEqual(0);
    }
    expect(out.settings).toMatchObject({ t: 50, guidance: 4, tap: 'U-L1-R1-B0-Cross-Q', prompt: 'what colour is the circle' });
    expect(out.providers.unet).toMatch(/cpu/);
  });

  it('fails with a one-line reason and exit 2 on a corrupt image', () => {
    const bad = path.join(tmpdir(), 'bad.png');
    fs.writeFileSync(bad, 'not an image');
    const r = twinlens(['ask', '--pack', TINY, '--image', bad, '--question', 'what colour is the circle', '--json']);
    expect(r.code).toBe(2);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/IMAGE_DECODE_FAILED.*not a readable image/);
  });

  it('a pack missing one part opens; the modes that need the part say why, the others answer', () => {
    const ask = (pack: string) => {
      const r = twinlens(['ask', '--pack', pack, '--image', SAMPLE, '--question', 'what colour is the circle', '--mode', 'all', '--max-tokens', '3', '--json']);
      expect(r.code, r.stderr).toBe(0);
      return JSON.parse(r.stdout).answers as Record<string, { text: string; error?: { code: string; message: string } }>;
    };
    // Before: the whole pack was refused ("No model pack is open").
    const noSdTokenizer = ask(broken((dir, m) => fs.rmSync(path.join(dir, m.diffusion.tokenizer))));
    expect(noSdTokenizer.clip.error).toBeUndefined();
    expect(noSdTokenizer.clip.text.length).toBeGreaterThan(0);
    for (const mode of ['diffusion', 'fused']) {
      expect(noSdTokenizer[mode].error?.code).toBe('MODE_UNAVAILABLE');
      expect(noSdTokenizer[mode].error?.message).toMatch(/diffusion tokenizer file .* is missing/);
    }
    // Before: every mode was listed as available and failed inside the tokenizer.
    const r = twinlens([
      'ask',
      '--pack',
      broken((dir, m) => fs.rmSync(path.join(dir, m.llm.tokenizer))),
      '--image',
      SAMPLE,
      '--question',
      'what colour is the circle',
      '--mode',
      'all',
      '--json',
    ]);
    expect(r.code).not.toBe(0);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/MODE_UNAVAILABLE.*LLM tokenizer file llm\/tokenizer.json is missing/);
  });

  it('checks external-data locations when a pack opens: outside the pack is refused, missing weights disable only their modes', () => {
    // Rewrite the UNet's external-data location in place: same byte length keeps the protobuf valid.
    const escaping = broken((dir, m) => {
      const file = path.join(dir, m.diffusion.unet.path);
      const bytes = fs.readFileSync(file);
      const from = Buffer.from('weights.pb');
      const to = Buffer.from('../../x.pb');
      let at = bytes.indexOf(from);
      expect(at).toBeGreaterThan(0);
      while (at >= 0) {
        to.copy(bytes, at);
        at = bytes.indexOf(from, at + 1);
      }
      fs.writeFileSync(file, bytes);
      fs.writeFileSync(path.join(dir, '..', 'x.pb'), 'not weights'); // where ../../x.pb from unet/ points
    });
    const r = twinlens(['ask', '--pack', escaping, '--image', SAMPLE, '--question', 'what colour is the circle', '--mode', 'clip', '--json']);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/stores weights in "\.\.\/\.\.\/x\.pb", outside the pack folder/);

    const noWeights = broken((dir, m) => fs.rmSync(path.join(dir, path.dirname(m.diffusion.unet.path), 'weights.pb')));
    const ok = twinlens([
      'ask',
      '--pack',
      noWeights,
      '--image',
      SAMPLE,
      '--question',
      'what colour is the circle',
      '--mode',
      'all',
      '--max-tokens',
      '3',
      '--json',
    ]);
    expect(ok.code, ok.stderr).toBe(0);
    const answers = JSON.parse(ok.stdout).answers;
    expect(answers.clip.error).toBeUndefined();
    expect(answers.diffusion.error?.message).toMatch(/needs its external data "weights\.pb"/);
  });

  it('refuses a FIFO and a folder as the image with a one-line reason instead of blocking', () => {
    const dir = tmpdir();
    const fifo = path.join(dir, 'pipe.png');
    const mk = spawnSync('mkfifo', [fifo]);
    expect(mk.status, 'mkfifo (coreutils) is needed for this test').toBe(0);
    // Before the fix the engine read the FIFO and waited forever for a writer:
    // the spawn timeout (a hang guard, not a timing claim) turned that into a null exit code.
    for (const [image, why] of [
      [fifo, /not a regular file/],
      [dir, /folder, not a file/],
    ] as const) {
      const r = twinlens(['ask', '--pack', TINY, '--image', image, '--question', 'what colour is the circle', '--json'], 60_000);
      expect(r.code, r.stderr).toBe(2);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
      expect(r.stderr).toMatch(why);
    }
  });

  it.skipIf(!hasNumpy)('features writes .npy + sidecars that numpy reads back bit-exactly (needs .venv with numpy)', () => {
    const out = tmpdir();
    const r = twinlens([
      'features',
      '--pack',
      TINY,
      '--image',
      SAMPLE,
      '--question',
      'what colour is the circle',
      '--tap',
      'U-L1-R1-B0-Cross-Q',
      'U-L2-R2-Res-Out',
      '--cross-attention',
      '--out',
      out,
      '--json',
    ]);
    expect(r.code, r.stderr).toBe(0);
    const { written } = JSON.parse(r.stdout) as { written: string[] };
    expect(written).toHaveLength(3);
    const side = JSON.parse(fs.readFileSync(written[0].replace(/\.npy$/, '.json'), 'utf8'));
    expect(side).toMatchObject({ tap: 'U-L1-R1-B0-Cross-Q', t: 50, guidance: 4, seed: 0, prompt: 'what colour is the circle', shape: [16, 24], pack: 'tiny' });
    expect(side.imageHash).toMatch(/^[0-9a-f]{64}$/);
    const check = spawnSync(
      PY,
      ['-c', 'import sys, numpy as np, hashlib; a = np.load(sys.argv[1]); print(a.dtype, a.shape, hashlib.sha256(a.tobytes()).hexdigest())', written[0]],
      { encoding: 'utf8' },
    );
    expect(check.status, check.stderr).toBe(0);
    const raw = fs.readFileSync(written[0]);
    const hlen = raw.readUInt16LE(8);
    const digest = createHash('sha256')
      .update(raw.subarray(10 + hlen))
      .digest('hex');
    expect(check.stdout.trim()).toBe(`float32 (16, 24) ${digest}`);
  });

  it('bench reports every stage, tokens/s and peak memory (no timing assertions)', () => {
    const r = twinlens(['bench', '--pack', TINY, '--iterations', '1', '--warmup', '0', '--max-tokens', '3', '--no-reference', '--json']);
    expect(r.code, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout);
    const stages = out.stages.map((s: { stage: string }) => s.stage);
    for (const s of ['preprocess', 'vae', 'text_encoder', 'unet_batch2', 'clip', 'projectors', 'prefill', 'decode_per_token']) expect(stages).toContain(s);
    expect(out.peakRssBytes).toBeGreaterThan(0);
    expect(out.referenceSkipped).toBe('--no-reference');
  });

  it('packs validate accepts both fixture packs', () => {
    for (const p of [TINY, TINY_FP16]) {
      const r = twinlens(['packs', 'validate', p]);
      expect(r.code, r.stdout + r.stderr).toBe(0);
      expect(r.stdout).toMatch(/Usable\./);
    }
  });

  const cases: Array<[string, (dir: string, m: Record<string, any>) => void, RegExp]> = [
    [
      'broken manifest',
      (dir, m) => {
        fs.writeFileSync(path.join(dir, 'pack.json'), '{"format": "twinlens-pack", ');
        m.__keep = true;
      },
      /PACK_MANIFEST_INVALID.*not valid JSON/,
    ],
    ['path escaping the pack', (_d, m) => (m.clip.preprocessor = '../../etc/passwd'), /PACK_PATH_ESCAPE/],
    ['missing file', (dir) => fs.rmSync(path.join(dir, 'projectors', 'diffusion.onnx')), /PACK_FILE_MISSING.*projectors\/diffusion\.onnx/],
    ['sha256 mismatch', (_d, m) => (m.diffusion.vaeEncoder.sha256 = '0'.repeat(64)), /PACK_HASH_MISMATCH/],
    [
      'truncated ONNX',
      (dir, m) => {
        delete m.diffusion.vaeEncoder.sha256;
        const f = path.join(dir, 'vae_encoder', 'model.onnx');
        fs.writeFileSync(f, fs.readFileSync(f).subarray(0, 300));
      },
      /ONNX_LOAD_FAILED/,
    ],
    [
      'wrong dtype / names',
      (dir, m) => {
        delete m.modes.clip.projectors.clip.sha256;
        delete m.modes.fused.projectors.clip.sha256;
        fs.copyFileSync(path.join(dir, 'llm', 'embed_tokens.onnx'), path.join(dir, 'projectors', 'clip.onnx'));
      },
      /ONNX_IO_MISMATCH.*missing input "features"/,
    ],
    ['missing tap', (_d, m) => (m.diffusion.defaults.tap = 'U-L7-R0-B0-Cross-Q'), /TAP_NOT_FOUND/],
  ];
  for (const [name, mutate, reason] of cases) {
    it(`packs validate rejects a pack with a ${name}`, () => {
      const dir = broken(mutate);
      const r = twinlens(['packs', 'validate', dir]);
      expect(r.code).toBe(1);
      expect(r.stdout + r.stderr).toMatch(reason);
      expect(r.stderr.trim().split('\n').length).toBe(1);
    });
  }
});
