/**
 * `checkPacks` (the recent-packs list's check): a pack that loads gives its
 * name; a moved folder, a folder without pack.json and a pack.json that is not
 * valid each give a one-line reason, without failing the others.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { checkPacks } from '../../../src/engine/pack/check-packs.js';
import { TINY } from '../../helpers/fixtures.js';

const WORK = fs.mkdtempSync(path.join(os.tmpdir(), 'twinlens-check-packs-'));
afterAll(() => fs.rmSync(WORK, { recursive: true, force: true }));

describe('checkPacks', () => {
  it('names the packs that load and says why the others do not', () => {
    const empty = path.join(WORK, 'empty');
    fs.mkdirSync(empty);
    const broken = path.join(WORK, 'broken');
    fs.mkdirSync(broken);
    fs.writeFileSync(path.join(broken, 'pack.json'), '{"format": "twinlens-pack", "version": 1');
    const r = checkPacks([TINY, path.join(WORK, 'gone'), empty, broken]);
    expect(r.packs.map((p) => p.ok)).toEqual([true, false, false, false]);
    expect(r.packs[0].name).toBe(JSON.parse(fs.readFileSync(path.join(TINY, 'pack.json'), 'utf8')).name);
    expect(r.packs[1].reason).toMatch(/does not exist/);
    expect(r.packs[2].reason).toMatch(/pack\.json/);
    expect(r.packs[3].reason).toMatch(/pack\.json/);
    for (const p of r.packs.slice(1)) expect(p.reason?.split('\n')).toHaveLength(1);
  });
});
