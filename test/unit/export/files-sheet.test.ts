/**
 * Resumable files and figure sheets. Atomic writes leave nothing behind; a
 * group counts as complete only with its sidecar, the same request, every
 * requested format and intact file sizes. Sheets: the PNG carries rendered
 * label text (dark pixels where the labels are, none in empty margins), the
 * SVG is a self-contained document whose embedded tiles decode to the exact
 * panel pixels and whose labels are escaped <text>, and rasterising the SVG
 * gives (nearly) the PNG.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import sharp from 'sharp';
import { afterAll, describe, expect, it } from 'vitest';
import { completeGroup, GroupWriter, safeName, writeAtomic } from '../../../src/engine/export/files.js';
import { renderSheet } from '../../../src/engine/export/sheet.js';
import { colorize } from '../../../src/engine/viz/colormap.js';
import { decodeImage, solidImage } from '../../../src/engine/viz/render.js';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'twinlens-files-'));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

describe('atomic files and complete groups', () => {
  it('writeAtomic replaces the file and leaves no temporary files', () => {
    const f = path.join(dir, 'a', 'x.bin');
    writeAtomic(f, 'one');
    writeAtomic(f, Buffer.from('two'));
    expect(fs.readFileSync(f, 'utf8')).toBe('two');
    expect(fs.readdirSync(path.dirname(f))).toEqual(['x.bin']);
  });

  it('a group is complete with its sidecar, the same request, all formats and intact files', () => {
    const g = path.join(dir, 'g');
    const request = { kind: 'tap', pack: 'tiny', t: 50, prompt: 'q', taps: ['a', 'b'] };
    const check = { request, formats: ['npy', 'png'] as const };
    const side = path.join(g, 'x.json');
    expect(completeGroup(side, { ...check, formats: [...check.formats] })).toBeUndefined();
    const w = new GroupWriter(g);
    w.write('x.npy', 'npy', Buffer.alloc(100, 1));
    w.write('x.png', 'png', Buffer.alloc(50, 2));
    w.finish('x.json', { kind: 'tap', request, extra: 1 });
    expect(completeGroup(side, { request, formats: ['npy', 'png'] })?.files.map((f) => f.name)).toEqual(['x.npy', 'x.png']);
    // Key order does not matter; values do.
    expect(completeGroup(side, { request: { taps: ['a', 'b'], prompt: 'q', t: 50, pack: 'tiny', kind: 'tap' }, formats: ['npy'] })).toBeDefined();
    expect(completeGroup(side, { request: { ...request, t: 10 }, formats: ['npy'] })).toBeUndefined();
    expect(completeGroup(side, { request, formats: ['safetensors'] })).toBeUndefined();
    fs.writeFileSync(path.join(g, 'x.png'), Buffer.alloc(49));
    expect(completeGroup(side, { request, formats: ['npy'] })).toBeUndefined();
    fs.writeFileSync(path.join(g, 'x.png'), Buffer.alloc(50, 9));
    expect(completeGroup(side, { request, formats: ['npy'] })).toBeDefined();
    expect(completeGroup(side, { request, formats: ['npy'], verifyHashes: true })).toBeUndefined();
    fs.rmSync(path.join(g, 'x.npy'));
    expect(completeGroup(side, { request, formats: ['png'] })).toBeUndefined();
    fs.writeFileSync(side, '{not json');
    expect(completeGroup(side, { request, formats: [] })).toBeUndefined();
  });

  it('safeName keeps names portable', () => {
    expect(safeName('U-L1-R1-B0-Cross-Q')).toBe('U-L1-R1-B0-Cross-Q');
    expect(safeName('/up_blocks.1/attn2/to_q/MatMul_output_0')).toBe('up_blocks.1_attn2_to_q_MatMul_output_0');
    expect(safeName('../..')).toBe('x');
  });
});

describe('figure sheet', async () => {
  const S = 48;
  const grad = colorize(
    Float32Array.from({ length: S * S }, (_, i) => (i % S) / (S - 1)),
    S,
    S,
    'viridis',
  );
  const red = solidImage(S, S, [220, 30, 30]);
  const out = await renderSheet({
    title: 'sample.png — layers × timesteps',
    rowLabels: ['U-L1-R1-B0-Cross-Q\nPCA', 'cross <attention> & "words"'],
    colLabels: ['input', 't = 10', 't = 50'],
    cells: [
      [{ image: grad, note: 'encoder view' }, { image: red }, { image: grad }],
      [null, { image: grad }, { image: red }],
    ],
    cellSize: S,
    footer: ['pack tiny · seed 0'],
  });
  const png = await decodeImage(out.png);

  const darkIn = (x0: number, y0: number, x1: number, y1: number) => {
    let n = 0;
    for (let y = y0; y < y1; y++) for (let x = x0; x < x1; x++) if (png.data[(y * png.width + x) * 3] < 100 && png.data[(y * png.width + x) * 3 + 1] < 100) n++;
    return n;
  };

  it('PNG has the layout size and rendered label text', () => {
    expect([png.width, png.height]).toEqual([out.width, out.height]);
    // Labels live left of the grid and above it; text means dark pixels there.
    const gridLeft = out.width - 10 - 3 * S - 2 * 6;
    expect(darkIn(0, 0, out.width, 28)).toBeGreaterThan(100); // title
    expect(darkIn(0, 40, gridLeft - 2, out.height - 30)).toBeGreaterThan(100); // row labels
    expect(darkIn(out.width - 9, 0, out.width, out.height)).toBe(0); // right margin stays white
  });

  it('the red tile sits at its grid position', async () => {
    const at = (x: number, y: number) => Array.from(png.data.subarray((y * png.width + x) * 3, (y * png.width + x) * 3 + 3));
    const svgTiles = [...out.svg.matchAll(/<image x="(\d+)" y="(\d+)"[^>]*href="data:image\/png;base64,([^"]+)"/g)];
    expect(svgTiles).toHaveLength(5);
    const [, x, y, b64] = svgTiles[1];
    expect(at(Number(x) + 5, Number(y) + 5)).toEqual([220, 30, 30]);
    const tile = await decodeImage(Buffer.from(b64, 'base64'));
    expect(Buffer.from(tile.data).equals(Buffer.from(red.data))).toBe(true);
  });

  it('SVG is self-contained with escaped <text> labels and rasterises like the PNG', async () => {
    expect(out.svg).toMatch(/^<\?xml/);
    expect(out.svg).toContain('>cross &lt;attention&gt; &amp; &quot;words&quot;</text>');
    expect(out.svg).toContain('>U-L1-R1-B0-Cross-Q</text>');
    expect(out.svg).toContain('>t = 50</text>');
    expect(out.svg).not.toMatch(/href="(?!data:)/);
    const raster = await sharp(Buffer.from(out.svg)).flatten({ background: '#ffffff' }).removeAlpha().raw().toBuffer({ resolveWithObject: true });
    expect([raster.info.width, raster.info.height]).toEqual([out.width, out.height]);
    let diff = 0;
    for (let i = 0; i < raster.data.length; i++) diff += Math.abs(raster.data[i] - png.data[i]);
    expect(diff / raster.data.length).toBeLessThan(2);
  });

  it('rejects cells of the wrong size or count', async () => {
    await expect(renderSheet({ rowLabels: ['a'], colLabels: ['b'], cells: [[{ image: solidImage(3, 3) }]], cellSize: 4 })).rejects.toThrow(/expected 4×4/);
    await expect(renderSheet({ rowLabels: ['a'], colLabels: ['b', 'c'], cells: [[null]], cellSize: 4 })).rejects.toThrow(/1 × 2/);
  });
});
