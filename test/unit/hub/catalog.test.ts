/**
 * The Get-models catalog: the built-in entries are well-formed (every role
 * present, sizes and files given); $TWINLENS_CATALOG replaces them, and a
 * file that is not a catalog fails with a message that names it.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { BUILTIN_CATALOG } from '../../../src/shared/catalog.js';
import { catalogEntries, downloadModel } from '../../../src/engine/hub/catalog-methods.js';

const WORK = fs.mkdtempSync(path.join(os.tmpdir(), 'twinlens-catalog-'));
afterEach(() => delete process.env.TWINLENS_CATALOG);

describe('catalog', () => {
  it('ships one SD, one CLIP and one LLM export with files and sizes', () => {
    expect(new Set(BUILTIN_CATALOG.map((e) => e.role))).toEqual(new Set(['sd', 'clip', 'llm']));
    for (const e of BUILTIN_CATALOG) {
      expect(e.files.length, e.id).toBeGreaterThan(0);
      expect(e.bytes, e.id).toBeGreaterThan(1e8);
      expect(e.repo, e.id).toMatch(/^[\w.-]+\/[\w.-]+$/);
    }
    expect(new Set(BUILTIN_CATALOG.map((e) => e.id)).size).toBe(BUILTIN_CATALOG.length);
  });

  it('reads $TWINLENS_CATALOG, filling title, size and description', () => {
    const f = path.join(WORK, 'c.json');
    fs.writeFileSync(f, JSON.stringify([{ id: 'x', role: 'clip', repo: 'a/b', files: ['m.onnx'] }]));
    process.env.TWINLENS_CATALOG = f;
    expect(catalogEntries()).toEqual([{ id: 'x', role: 'clip', repo: 'a/b', files: ['m.onnx'], title: 'x', bytes: 0, adds: '' }]);
  });

  it('refuses a catalog file that is not one, and an unknown entry', async () => {
    const f = path.join(WORK, 'bad.json');
    fs.writeFileSync(f, JSON.stringify({ id: 'x' }));
    process.env.TWINLENS_CATALOG = f;
    expect(() => catalogEntries()).toThrow(/must be an array/);
    fs.writeFileSync(f, '{not json');
    expect(() => catalogEntries()).toThrow(/not readable JSON/);
    delete process.env.TWINLENS_CATALOG;
    await expect(downloadModel('no-such-model')).rejects.toMatchObject({
      code: 'INVALID_ARGUMENT',
      message: expect.stringMatching(/No catalog entry "no-such-model"/),
    });
  });
});
