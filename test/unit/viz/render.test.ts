/**
 * Rendering on a fixed fixture input (test/fixtures/images/sample.png and a
 * synthetic 4×4×8 feature map): golden hashes of the decoded pixels of each
 * PNG panel plus pixel statistics that say why they are right (PCA uses the
 * full 0…255 range per channel, heat maps end on the colour map's ends,
 * overlays keep the image beneath). Also crop geometry, markers, tiling and
 * the attention strip.
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import { describe, expect, it } from 'vitest';
import { loadImage, type RgbImage } from '../../../src/engine/image/image.js';
import { attentionMap, isSpecialToken, meanAttention, tokenLabel, wordTokens } from '../../../src/engine/viz/attention.js';
import { colormapLut } from '../../../src/engine/viz/colormap.js';
import type { FeatureGrid } from '../../../src/engine/viz/maps.js';
import { attentionPanels, channelsPanel, correspondencePanels, differencePanel, normPanel, pcaPanels } from '../../../src/engine/viz/panels.js';
import { blend, decodeImage, drawMarker, encodePng, heatmap, solidImage, tile } from '../../../src/engine/viz/render.js';
import { cropGeometry, encoderView, imageToUnit, unitToCell, unitToImage } from '../../../src/engine/viz/view.js';
import { SAMPLE } from '../../helpers/fixtures.js';

const sha = (img: RgbImage) => createHash('sha256').update(img.data).digest('hex').slice(0, 16);

function features(phase = 0): FeatureGrid {
  const data = new Float32Array(16 * 8);
  for (let t = 0; t < 16; t++) for (let c = 0; c < 8; c++) data[t * 8 + c] = Math.sin(0.37 * (t + 1) * (c + 1) + phase) + (c === 0 ? (t % 4) / 2 : 0);
  return { height: 4, width: 4, channels: 8, data };
}

const XATTN = {
  tokens: ['<|startoftext|>', 'red</w>', 'circle</w>', '<|endoftext|>'],
  height: 2,
  width: 2,
  maps: Float32Array.from([0.9, 0.9, 0.9, 0.9, 0.8, 0.1, 0.05, 0.05, 0.1, 0.2, 0.3, 0.4, 0, 0, 0, 0]),
  layers: ['a', 'b'],
};

async function roundTrip(img: RgbImage): Promise<RgbImage> {
  const png = await encodePng(img);
  expect(png.subarray(1, 4).toString()).toBe('PNG');
  const back = await decodeImage(png);
  expect(Buffer.from(back.data).equals(Buffer.from(img.data))).toBe(true);
  return back;
}

function channelValues(img: RgbImage, c: number): number[] {
  return Array.from(img.data.filter((_, i) => i % 3 === c));
}

describe('panels on a fixed input', async () => {
  const base = await encoderView(await loadImage({ path: SAMPLE }), 64);

  it('the encoder view of the 64 px sample is the image itself', async () => {
    const direct = await decodeImage(fs.readFileSync(SAMPLE));
    expect(Buffer.from(base.data).equals(Buffer.from(direct.data))).toBe(true);
    expect(sha(base)).toMatchInlineSnapshot(`"03f3a83308576dd5"`);
  });

  it('PCA panels: nearest-upsampled tokens, full range per channel, golden pixels', async () => {
    const [a, b] = pcaPanels(
      [
        { id: 'a', label: 'A', source: 'diffusion', grid: features(0) },
        { id: 'b', label: 'B', source: 'diffusion', grid: features(0.5) },
      ],
      64,
    );
    const img = await roundTrip(a.image);
    expect([img.width, img.height]).toEqual([64, 64]);
    // 16×16 blocks of one colour each.
    expect(Array.from(img.data.subarray(0, 3))).toEqual(Array.from(img.data.subarray(15 * 3, 16 * 3)));
    for (let c = 0; c < 3; c++) {
      const all = [...channelValues(a.image, c), ...channelValues(b.image, c)];
      expect(Math.min(...all)).toBe(0);
      expect(Math.max(...all)).toBe(255);
    }
    expect(a.values?.length).toBe(16 * 3);
    expect((a.meta?.explained as number[])[0]).toBeGreaterThan((a.meta?.explained as number[])[1]);
    expect([sha(a.image), sha(b.image)]).toMatchInlineSnapshot(`
      [
        "a5cb91987f9df301",
        "47449045bec90271",
      ]
    `);
  });

  it('norm and difference overlays keep the image beneath; heat maps end on the colour map ends', async () => {
    const n = normPanel('n', 'norm', 'diffusion', features(), 64);
    const lut = colormapLut('viridis').bytes;
    const px = (img: RgbImage, i: number) => Array.from(img.data.subarray(i * 3, i * 3 + 3));
    const ends = [Array.from(lut.subarray(0, 3)), Array.from(lut.subarray(765, 768))];
    const seen = new Set(Array.from({ length: 64 * 64 }, (_, i) => px(n.image, i).join(',')));
    for (const e of ends) expect(seen.has(e.join(','))).toBe(true);
    const d = differencePanel('d', 'diff', features(0.3), base);
    await roundTrip(d.image);
    const diff = d.image.data.reduce((s, v, i) => s + Math.abs(v - base.data[i]), 0) / d.image.data.length;
    expect(diff).toBeGreaterThan(5);
    expect(diff).toBeLessThan(200);
    expect([sha(n.image), sha(d.image)]).toMatchInlineSnapshot(`
      [
        "8f127e1533117618",
        "bceeb9e904555087",
      ]
    `);
  });

  it('channel grid: k tiles of the strongest channels', async () => {
    const p = channelsPanel('c', 'channels', 'diffusion', features(), 64, 4);
    expect(p.meta?.channels).toHaveLength(4);
    expect((p.meta?.channels as number[])[0]).toBe(0); // the channel with the added ramp
    expect(p.image.width).toBe(2 * 31 + 2);
    expect(sha(p.image)).toMatchInlineSnapshot(`"1893d5cf64141e28"`);
  });

  it('attention: word tokens only, one overlay each plus their mean', async () => {
    expect(wordTokens(XATTN)).toEqual([1, 2]);
    expect(isSpecialToken('<|endoftext|>')).toBe(true);
    expect(tokenLabel('circle</w>')).toBe('circle');
    expect(Array.from(attentionMap(XATTN, 1).data)).toEqual(Array.from(Float32Array.from([0.8, 0.1, 0.05, 0.05])));
    expect(meanAttention(XATTN).data[0]).toBeCloseTo(0.45, 6);
    const panels = attentionPanels(XATTN, base, 'xattn-');
    expect(panels.map((p) => p.id)).toEqual(['xattn-1-red', 'xattn-2-circle', 'xattn-mean']);
    // "red" attends to the top-left: its overlay is brightest there.
    const red = panels[0].image;
    const lum = (i: number) => red.data[i * 3] + red.data[i * 3 + 1] + red.data[i * 3 + 2] - (base.data[i * 3] + base.data[i * 3 + 1] + base.data[i * 3 + 2]);
    expect(lum(0)).toBeGreaterThan(lum(64 * 64 - 1));
    expect(panels.map((p) => sha(p.image))).toMatchInlineSnapshot(`
      [
        "7aa69eaab61f597a",
        "c6518a0ac7bbfc95",
        "daedd115f45e4c69",
      ]
    `);
  });

  it('correspondence panels mark the point and the best match', () => {
    const { source, target, best } = correspondencePanels('corr', 'corr', 'clip', features(), features(), { u: 0.6, v: 0.1 }, base, base);
    expect(best).toMatchObject({ row: 0, col: 2, token: 2 });
    expect(source.image.data).not.toEqual(base.data);
    expect(target.values?.length).toBe(16);
    expect(target.meta?.best).toEqual(best);
  });
});

describe('render helpers', () => {
  it('blend, marker and tile', () => {
    const black = solidImage(2, 1, [0, 0, 0]);
    const white = solidImage(2, 1);
    expect(Array.from(blend(black, white, 0.25).data)).toEqual([64, 64, 64, 64, 64, 64]);
    expect(Array.from(blend(black, white, [0, 1]).data)).toEqual([0, 0, 0, 255, 255, 255]);
    const m = drawMarker(solidImage(32, 32), 16, 16);
    expect(Array.from(m.data.subarray((16 * 32 + 16) * 3, (16 * 32 + 16) * 3 + 3))).toEqual([255, 40, 40]);
    const t = tile([black, white, black], 2, 1);
    expect([t.width, t.height]).toEqual([5, 3]);
  });

  it('heatmap size and range', () => {
    const h = heatmap({ height: 1, width: 2, data: Float32Array.from([0, 1]) }, 4, 2, { kernel: 'nearest', colormap: 'magma' });
    expect([h.width, h.height]).toEqual([4, 2]);
    expect(Array.from(h.data.subarray(0, 3))).toEqual([0, 0, 4]);
  });

  it('crop geometry maps points both ways (landscape image, short side 64)', () => {
    const g = cropGeometry(200, 100, 64);
    expect(g).toMatchObject({ resizedWidth: 128, resizedHeight: 64, left: 32, top: 0, crop: 64 });
    const u = imageToUnit(g, { x: 100, y: 50 });
    expect(u).toMatchObject({ u: 0.5, v: 0.5, inside: true });
    expect(imageToUnit(g, { x: 10, y: 50 }).inside).toBe(false);
    const back = unitToImage(g, { u: 0.25, v: 0.75 });
    expect(back.x).toBeCloseTo(75, 9);
    expect(back.y).toBeCloseTo(75, 9);
    expect(unitToCell({ u: 1, v: 0 }, 4, 4)).toEqual({ row: 0, col: 3, token: 3 });
  });
});
