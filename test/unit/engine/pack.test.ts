import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { Pack } from '../../../src/engine/pack/pack.js';
import type { PackManifestInput } from '../../../src/shared/manifest.js';

const dirs: string[] = [];
function tmp(): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'twinlens-pack-'));
  dirs.push(d);
  return d;
}
afterEach(() => {
  for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});

function manifest(over: Partial<PackManifestInput> = {}): PackManifestInput {
  return {
    format: 'twinlens-pack',
    version: 1,
    name: 'unit',
    clip: { vision: { path: 'clip/vision.onnx' }, preprocessor: 'clip/pre.json', numLayers: 3 },
    llm: {
      embedTokens: { path: 'llm/embed.onnx' },
      decoder: { path: 'llm/dec.onnx' },
      tokenizer: 'llm/tokenizer.json',
      numLayers: 1,
      numKvHeads: 1,
      headDim: 4,
    },
    modes: {
      clip: { inputs: ['clip'], projectors: { clip: { path: 'p/clip.onnx' } } },
      diffusion: { inputs: ['diffusion'], projectors: { diffusion: { path: 'p/diff.onnx' } } },
    },
    ...over,
  };
}

function write(dir: string, m: unknown, files: string[] = []): void {
  fs.writeFileSync(path.join(dir, 'pack.json'), typeof m === 'string' ? m : JSON.stringify(m));
  for (const f of files) {
    fs.mkdirSync(path.dirname(path.join(dir, f)), { recursive: true });
    fs.writeFileSync(path.join(dir, f), 'x');
  }
}

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (e) {
    return (e as { code?: string }).code;
  }
  return undefined;
}

describe('Pack.load', () => {
  it('reports a missing folder and a missing manifest', () => {
    expect(codeOf(() => Pack.load('/nonexistent/twinlens'))).toBe('PACK_NOT_FOUND');
    expect(codeOf(() => Pack.load(tmp()))).toBe('PACK_NOT_FOUND');
  });

  it('reports broken JSON and schema errors with the field path', () => {
    const d = tmp();
    write(d, '{ "format": ');
    expect(() => Pack.load(d)).toThrow(/not valid JSON/);
    write(d, { ...manifest(), version: 2 });
    expect(() => Pack.load(d)).toThrow(/version/);
    write(d, { ...manifest(), llm: { ...manifest().llm, numLayers: 'two' } });
    expect(() => Pack.load(d)).toThrow(/llm\.numLayers/);
    expect(codeOf(() => Pack.load(d))).toBe('PACK_MANIFEST_INVALID');
  });

  it('refuses paths that escape the pack folder, directly or through a link', () => {
    const d = tmp();
    write(d, manifest({ clip: { vision: { path: '../outside.onnx' }, preprocessor: 'clip/pre.json' } }));
    expect(codeOf(() => Pack.load(d))).toBe('PACK_PATH_ESCAPE');
    write(d, manifest({ clip: { vision: { path: '/etc/passwd' }, preprocessor: 'clip/pre.json' } }));
    expect(() => Pack.load(d)).toThrow(/absolute/);
    const outside = tmp();
    fs.writeFileSync(path.join(outside, 'secret.onnx'), 'x');
    fs.mkdirSync(path.join(d, 'clip'), { recursive: true });
    fs.symlinkSync(path.join(outside, 'secret.onnx'), path.join(d, 'clip', 'vision.onnx'));
    write(d, manifest());
    expect(() => Pack.load(d)).toThrow(/through a link/);
  });

  it('reports unavailable modes with their reason instead of failing the pack', () => {
    const d = tmp();
    write(d, manifest(), ['clip/vision.onnx', 'clip/pre.json', 'llm/embed.onnx', 'llm/dec.onnx', 'llm/tokenizer.json', 'p/clip.onnx']);
    const p = Pack.load(d);
    expect(p.modeUnavailableReason('clip')).toBeUndefined();
    expect(p.modeUnavailableReason('diffusion')).toMatch(/no diffusion model/);
    expect(p.modeUnavailableReason('nope')).toMatch(/no mode "nope"/);
    fs.rmSync(path.join(d, 'p/clip.onnx'));
    expect(p.modeUnavailableReason('clip')).toMatch(/CLIP projector file p\/clip.onnx is missing/);
    expect(() => p.resolve('p/clip.onnx')).toThrow(/missing/);
  });
});
