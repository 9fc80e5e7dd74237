/**
 * Permission errors as an unprivileged user, so that they are real: root reads
 * and writes everything, and a chmod under root proves nothing. Each case runs
 * the real CLI as `nobody` (setpriv) against files root prepared:
 * - an image that user may not read;
 * - an output folder that user may not write (was "INTERNAL: EACCES … mkdir");
 * - a pack whose UNet weights (external data) that user may not read (was
 *   ONNX Runtime's "SystemError : 13" under "the file may be truncated");
 * - a read-only pack folder (a packaged app's resources) whose UNet keeps its
 *   weights by relative path: the edited graph with the taps goes to the
 *   user's cache folder with the weights linked or copied beside it (it used
 *   to fail: "make the pack folder writable").
 * Needs root (to prepare the files and switch user) and setpriv; skipped with
 * the reason otherwise.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT, TINY } from '../helpers/fixtures.js';

const NOBODY = 65534;
const BIN = path.join(ROOT, 'bin', 'twinlens.js');

function whyNot(): string | undefined {
  if (process.platform !== 'linux') return 'needs Linux (setpriv)';
  if (process.getuid?.() !== 0) return 'needs root to prepare files for, and switch to, the unprivileged user "nobody"';
  const probe = spawnSync(
    'setpriv',
    ['--reuid', String(NOBODY), '--regid', String(NOBODY), '--clear-groups', process.execPath, '-e', `require('fs').accessSync(${JSON.stringify(BIN)})`],
    { encoding: 'utf8' },
  );
  if (probe.error) return `setpriv is not installed (${probe.error.message})`;
  if (probe.status !== 0) return `the user nobody cannot run node on this checkout: ${probe.stderr.trim().split('\n')[0]}`;
  return undefined;
}

const reason = whyNot();
let tmp = '';
let image = '';

/** Runs the CLI as nobody; HOME in the temporary folder (the cache of edited graphs lives there). */
function asNobody(args: string[]) {
  const r = spawnSync('setpriv', ['--reuid', String(NOBODY), '--regid', String(NOBODY), '--clear-groups', process.execPath, BIN, ...args], {
    cwd: tmp,
    encoding: 'utf8',
    timeout: 120_000,
    // A clean environment: vitest's NODE_OPTIONS would resolve its loaders from the temporary folder.
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: path.join(tmp, 'home'), XDG_CACHE_HOME: path.join(tmp, 'home', '.cache') },
  });
  return { status: r.status, out: r.stdout, err: r.stderr.trim() };
}

/** A copy of the tiny pack without edited graphs left by earlier runs, owned by `uid`. */
function copyPack(name: string, uid: number): string {
  const dir = path.join(tmp, name);
  fs.cpSync(TINY, dir, { recursive: true, filter: (src) => !/\.twinlens-[0-9a-f]{16}\.onnx/.test(src) });
  for (const p of [dir, ...fs.readdirSync(dir, { recursive: true }).map((f) => path.join(dir, String(f)))]) fs.chownSync(p, uid, uid);
  return dir;
}

describe.skipIf(!!reason)(`permission errors as the unprivileged user nobody${reason ? ` (skipped: ${reason})` : ''}`, () => {
  beforeAll(() => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'twinlens-nobody-'));
    fs.chmodSync(tmp, 0o755);
    fs.mkdirSync(path.join(tmp, 'home'));
    fs.chownSync(path.join(tmp, 'home'), NOBODY, NOBODY);
    image = path.join(tmp, 'image.png');
    fs.copyFileSync(path.join(ROOT, 'assets', 'samples', 'green-triangle.png'), image);
    fs.chmodSync(image, 0o644);
  });
  afterAll(() => {
    if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
  });

  it('an unreadable image: one line that says permission denied', () => {
    const secret = path.join(tmp, 'secret.png');
    fs.copyFileSync(image, secret);
    fs.chmodSync(secret, 0o000);
    const r = asNobody(['ask', '--pack', TINY, '--image', secret, '--question', 'what is it', '--mode', 'clip']);
    expect(r.status).not.toBe(0);
    expect(r.err).toMatch(/IMAGE_DECODE_FAILED.*secret\.png.*permission denied/);
    expect(r.err.split('\n')).toHaveLength(1);
  });

  it('an output folder it may not write: PERMISSION_DENIED naming the folder, not INTERNAL', () => {
    const pack = copyPack('own-pack', NOBODY);
    const locked = path.join(tmp, 'locked');
    fs.mkdirSync(locked, { mode: 0o555 });
    fs.chmodSync(locked, 0o555);
    const r = asNobody(['features', '--pack', pack, '--image', image, '--out', path.join(locked, 'features'), '--provider', 'cpu']);
    expect(r.status).not.toBe(0);
    expect(r.err).toContain(`[PERMISSION_DENIED]: Permission denied: cannot create the folder ${path.join(locked, 'features')}`);
    expect(r.err).not.toContain('INTERNAL');
  });

  it('UNet weights it may not read: the diffusion modes say which file, the CLIP mode still answers', () => {
    const pack = copyPack('weights-locked', NOBODY);
    const weights = path.join(pack, 'unet', 'weights.pb');
    expect(fs.existsSync(weights)).toBe(true);
    fs.chownSync(weights, 0, 0);
    fs.chmodSync(weights, 0o600);
    const r = asNobody([
      'ask',
      '--pack',
      pack,
      '--image',
      image,
      '--question',
      'what is it',
      '--mode',
      'clip,diffusion',
      '--max-tokens',
      '2',
      '--provider',
      'cpu',
    ]);
    expect(r.out + r.err).toMatch(/diffusion: \[error: .*weights\.pb.*not readable by this user \(permission denied\)/);
    expect(r.out).toMatch(/^clip: (?!\[error)/m);
    expect(r.out + r.err).not.toContain('SystemError');
  });

  it('a read-only pack folder (a packaged app): the edited UNet goes to the user cache, beside its weights', () => {
    const pack = copyPack('root-pack', 0);
    const out = path.join(tmp, 'home', 'out');
    const r = asNobody(['features', '--pack', pack, '--image', image, '--out', out, '--provider', 'cpu']);
    expect(r.err).not.toMatch(/error/i);
    expect(r.status).toBe(0);
    expect(fs.readdirSync(out).some((f) => f.endsWith('.npy'))).toBe(true);
    // nothing written into the pack; the graph and (linked or copied) weights under XDG_CACHE_HOME
    expect(fs.readdirSync(path.join(pack, 'unet')).filter((f) => f.includes('.twinlens-'))).toEqual([]);
    const cache = path.join(tmp, 'home', '.cache', 'twinlens', 'graphs');
    const sub = fs.readdirSync(cache).find((f) => f.startsWith('model.twinlens-'));
    expect(sub && fs.readdirSync(path.join(cache, sub)).sort()).toEqual([`${sub}.onnx`, 'weights.pb']);
  });
});
