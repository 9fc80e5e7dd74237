/**
 * The batch export's bookkeeping, with a fake feature source that counts
 * extractions: a second run extracts nothing and writes nothing; a damaged
 * group is redone alone; sheets are redrawn from tensors read back from disk
 * (re-extracting only when no tensor format was written); a broken image is
 * reported while the rest of the batch completes; folders and .txt lists
 * expand to images; cancelling stops the run.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { FeaturesResult } from '../../../src/shared/contract.js';
import { type ExportPlan, type FeatureSource, listImages, runExport } from '../../../src/engine/export/batch.js';
import { SAMPLE, SAMPLE_B } from '../../helpers/fixtures.js';

const root = fs.mkdtempSync(path.join(os.tmpdir(), 'twinlens-batch-'));
afterAll(() => fs.rmSync(root, { recursive: true, force: true }));

function grid(seed: number, n: number) {
  return Float32Array.from({ length: n }, (_, i) => Math.sin(seed * 1.7 + i * 0.37));
}

class FakeSource implements FeatureSource {
  calls: Array<{ image: string; t: number; clip: boolean }> = [];
  async features(image: string, t: number, want: { clip: boolean }): Promise<FeaturesResult> {
    this.calls.push({ image, t, clip: want.clip });
    const s = image.length + t;
    return {
      imageHash: 'x',
      settings: { t, guidance: 4, tap: 'A', promptSource: 'custom', prompt: 'q', seed: 0, ensemble: 1 },
      taps: ['A', 'B'].map((alias, k) => ({
        alias,
        tensorName: `/t/${alias}`,
        height: 2,
        width: 2,
        channels: 5,
        data: grid(s + k, 20),
        cond: grid(s + k + 0.1, 20),
        uncond: grid(s + k + 0.2, 20),
      })),
      crossAttention: { tokens: ['<|startoftext|>', 'red', '<|endoftext|>'], height: 2, width: 2, maps: grid(s, 12).map(Math.abs), layers: ['l'] },
      clip: want.clip ? { alias: 'clip', tensorName: 'c', height: 2, width: 2, channels: 4, data: grid(s + 9, 16) } : undefined,
      ms: 1,
    };
  }
}

function plan(out: string, over: Partial<ExportPlan> = {}): ExportPlan {
  return {
    pack: { name: 'fake', dir: '/packs/fake', hasClip: true },
    images: [SAMPLE, SAMPLE_B],
    prompt: 'what colour is the circle',
    taps: ['A', 'B'],
    timesteps: [10, 50],
    guidance: 4,
    seed: 0,
    ensemble: 1,
    formats: ['npy', 'safetensors', 'png'],
    size: 32,
    sheet: true,
    out,
    ...over,
  };
}

describe('runExport', () => {
  it('writes everything once, then skips everything', async () => {
    const out = path.join(root, 'a');
    const src = new FakeSource();
    const steps: number[] = [];
    const first = await runExport(plan(out), src, (done, total) => steps.push(done / total));
    expect(first.failed).toBe(0);
    expect(src.calls).toHaveLength(4);
    expect(src.calls.filter((c) => c.clip).map((c) => c.t)).toEqual([10, 10]);
    expect(steps.at(-1)).toBe(1);
    expect(fs.existsSync(path.join(out, 'sample', 'sheet.png'))).toBe(true);
    expect(fs.existsSync(path.join(out, 'sample-b', 'A_t50_s4.safetensors'))).toBe(true);
    expect(fs.existsSync(path.join(out, 'sample', 'cross-attention_t10_1-red.png'))).toBe(true);
    expect(first.pair?.similarity?.clip.tokenwise).toBeLessThanOrEqual(1);
    expect(Object.keys(first.pair?.similarity ?? {})).toEqual(['clip', 'A', 'B']);

    const again = new FakeSource();
    const second = await runExport(plan(out), again);
    expect(again.calls).toHaveLength(0);
    expect(second.written).toBe(0);
    expect(second.pair?.skipped).toBe(true);
    expect(second.images[0].skipped).toContain('sheet');
  });

  it('redoes only a damaged group', async () => {
    const out = path.join(root, 'b');
    await runExport(plan(out, { sheet: false }), new FakeSource());
    fs.truncateSync(path.join(out, 'sample-b', 'B_t50_s4_cond.npy'), 10);
    const src = new FakeSource();
    const r = await runExport(plan(out, { sheet: false }), src);
    expect(src.calls).toEqual([{ image: SAMPLE_B, t: 50, clip: false }]);
    expect(r.images[1].written.every((f) => path.basename(f).startsWith('B_t50_s4'))).toBe(true);
    expect(r.images[1].skipped).toContain('A@t50');
  });

  it('draws a missing sheet from tensors on disk, or re-extracts when only PNGs were written', async () => {
    const out = path.join(root, 'c');
    await runExport(plan(out, { images: [SAMPLE] }), new FakeSource());
    fs.rmSync(path.join(out, 'sample', 'sheet.png'));
    const src = new FakeSource();
    await runExport(plan(out, { images: [SAMPLE] }), src);
    expect(src.calls).toHaveLength(0);
    expect(fs.existsSync(path.join(out, 'sample', 'sheet.png'))).toBe(true);

    const pngOnly = path.join(root, 'd');
    await runExport(plan(pngOnly, { images: [SAMPLE], formats: ['png'] }), new FakeSource());
    fs.rmSync(path.join(pngOnly, 'sample', 'sheet.json'));
    const src2 = new FakeSource();
    await runExport(plan(pngOnly, { images: [SAMPLE], formats: ['png'] }), src2);
    expect(src2.calls.map((c) => c.t)).toEqual([10, 50]);
  });

  it('remembers that a pack has no cross-attention maps, so a rerun extracts nothing', async () => {
    const out = path.join(root, 'g');
    class NoXattn extends FakeSource {
      override async features(image: string, t: number, want: { clip: boolean }) {
        return { ...(await super.features(image, t, want)), crossAttention: undefined };
      }
    }
    await runExport(plan(out, { images: [SAMPLE] }), new NoXattn());
    expect(JSON.parse(fs.readFileSync(path.join(out, 'sample', 'cross-attention_t10.json'), 'utf8'))).toMatchObject({ empty: true, files: [] });
    const src = new NoXattn();
    const r = await runExport(plan(out, { images: [SAMPLE] }), src);
    expect(src.calls).toHaveLength(0);
    expect(r.images[0].skipped).toContain('cross-attention@t50');
  });

  it('reports a broken image and finishes the others', async () => {
    const bad = path.join(root, 'bad.png');
    fs.writeFileSync(bad, 'not an image');
    const r = await runExport(plan(path.join(root, 'e'), { images: [bad, SAMPLE], sheet: false }), new FakeSource());
    expect(r.failed).toBe(1);
    expect(r.images[0].error).toMatch(/IMAGE_DECODE_FAILED/);
    expect(r.images[1].written.length).toBeGreaterThan(0);
  });

  it('stops when cancelled', async () => {
    const ac = new AbortController();
    ac.abort();
    await expect(runExport(plan(path.join(root, 'f')), new FakeSource(), undefined, ac.signal)).rejects.toMatchObject({ code: 'CANCELLED' });
  });
});

describe('listImages', () => {
  it('expands folders (sorted, images only) and .txt lists (relative to the list, # comments)', () => {
    const d = path.join(root, 'imgs');
    fs.mkdirSync(d, { recursive: true });
    for (const f of ['b.png', 'a.JPG', 'notes.md', '.hidden.png']) fs.writeFileSync(path.join(d, f), '');
    fs.writeFileSync(path.join(root, 'list.txt'), '# pairs\nimgs/b.png\n\n  imgs/a.JPG  \n');
    expect(listImages([d])).toEqual([path.join(d, 'a.JPG'), path.join(d, 'b.png')]);
    expect(listImages([path.join(root, 'list.txt'), SAMPLE])).toEqual([path.join(d, 'b.png'), path.join(d, 'a.JPG'), SAMPLE]);
    expect(() => listImages([path.join(root, 'nope')])).toThrow(/no such file/);
  });
});
