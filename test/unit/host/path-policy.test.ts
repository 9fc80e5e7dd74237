import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { PathPolicy, pathsOf } from '../../../src/host/path-policy.js';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'twinlens-policy-'));
const root = path.join(dir, 'root');
const outside = path.join(dir, 'outside');
fs.mkdirSync(root);
fs.mkdirSync(outside);
fs.writeFileSync(path.join(outside, 'secret.jsonl'), 'root:x:0:0\n');
fs.symlinkSync(outside, path.join(root, 'link'));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

describe('PathPolicy', () => {
  const policy = new PathPolicy([root]);

  it('allows the root, files below it and paths still to be created below it', () => {
    expect(policy.allows(root)).toBe(true);
    expect(policy.allows(path.join(root, 'a', 'b.png'))).toBe(true);
    expect(policy.allows(path.join(root, 'new-pack', 'deeper'))).toBe(true);
  });

  it('refuses siblings with the root as a prefix, parents, climbing and symbolic links out', () => {
    expect(policy.allows(root + '-evil')).toBe(false);
    expect(policy.allows(dir)).toBe(false);
    expect(policy.allows(path.join(root, '..', 'outside', 'secret.jsonl'))).toBe(false);
    expect(policy.allows(path.join(root, 'link', 'secret.jsonl'))).toBe(false);
    expect(policy.allows(path.join(root, 'link', 'new-file'))).toBe(false);
  });

  it("finds every path a call names, and treats bare suite names as the pack's own", () => {
    expect(pathsOf('evaluate', { suite: 'mini-world-test' })).toEqual([]);
    expect(pathsOf('evaluate', { suite: 's.jsonl', imagesDir: '/x' }).map((r) => r.field)).toEqual(['suite', 'imagesDir']);
    expect(pathsOf('visualize', { images: [{ path: '/a' }, { bytes: new Uint8Array(1) }] }).map((r) => r.field)).toEqual(['images.0.path']);
    expect(pathsOf('composePack', { sd: '/s', out: '/o' }).map((r) => r.field)).toEqual(['sd', 'out']);
    expect(pathsOf('composePack', { sd: '/s', out: '/o', trained: ['/t1', '/t2'] }).map((r) => `${r.field}=${r.value}`)).toEqual([
      'sd=/s',
      'out=/o',
      'trained=/t1',
      'trained=/t2',
    ]);
    expect(pathsOf('checkPacks', { dirs: ['/p1', '/p2'] }).map((r) => `${r.field}=${r.value}`)).toEqual(['dirs.0=/p1', 'dirs.1=/p2']);
    expect(pathsOf('status', {})).toEqual([]);
  });

  it('names the field and the roots, never the content', () => {
    let message = '';
    try {
      policy.check('evaluate', { suite: path.join(outside, 'secret.jsonl') });
    } catch (e) {
      message = (e as Error).message;
      expect((e as { code?: string }).code).toBe('PATH_NOT_ALLOWED');
    }
    expect(message).toContain('suite is outside the folders');
    expect(message).not.toContain('root:x');
  });
});
