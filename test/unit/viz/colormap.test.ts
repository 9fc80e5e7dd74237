/**
 * The generated colour-map tables: they must pass through the published
 * stops (endpoints and middle), have strictly increasing lightness (the float
 * table) and non-decreasing luminance within rounding (the 8-bit table), and
 * colorize must index them by value.
 */
import { describe, expect, it } from 'vitest';
import { colorize, colormapLut, labToSrgb, luminance, srgbToLab } from '../../../src/engine/viz/colormap.js';

const rgbAt = (name: 'viridis' | 'magma', i: number) => Array.from(colormapLut(name).bytes.subarray(i * 3, i * 3 + 3));

describe('colour maps', () => {
  it('viridis runs from #440154 through #21908c to #fde725', () => {
    expect(rgbAt('viridis', 0)).toEqual([0x44, 0x01, 0x54]);
    expect(rgbAt('viridis', 255)).toEqual([0xfd, 0xe7, 0x25]);
    // t = 0.5 lies between entries 127 and 128.
    const mid = [0, 1, 2].map((c) => (rgbAt('viridis', 127)[c] + rgbAt('viridis', 128)[c]) / 2);
    mid.forEach((v, c) => expect(Math.abs(v - [0x21, 0x90, 0x8c][c])).toBeLessThan(2));
  });

  it('magma runs from #000004 to #fcfdbf', () => {
    expect(rgbAt('magma', 0)).toEqual([0, 0, 4]);
    expect(rgbAt('magma', 255)).toEqual([0xfc, 0xfd, 0xbf]);
  });

  for (const name of ['viridis', 'magma'] as const) {
    it(`${name}: lightness strictly increases; 8-bit luminance never drops by more than rounding`, () => {
      const { float, bytes } = colormapLut(name);
      let prevL = -Infinity;
      let prevY = -Infinity;
      let prevLb = -Infinity;
      for (let i = 0; i < 256; i++) {
        const L = srgbToLab(float[i * 3], float[i * 3 + 1], float[i * 3 + 2])[0];
        expect(L).toBeGreaterThan(prevL);
        prevL = L;
        const Y = luminance(float[i * 3], float[i * 3 + 1], float[i * 3 + 2]);
        expect(Y).toBeGreaterThan(prevY);
        prevY = Y;
        const Lb = srgbToLab(bytes[i * 3] / 255, bytes[i * 3 + 1] / 255, bytes[i * 3 + 2] / 255)[0];
        expect(Lb).toBeGreaterThan(prevLb - 0.5);
        prevLb = Math.max(prevLb, Lb);
      }
      const first = srgbToLab(float[0], float[1], float[2])[0];
      expect(prevL - first).toBeGreaterThan(75); // spans most of the lightness range
    });
  }

  it('CIELAB conversion round-trips', () => {
    for (const c of [
      [0.2, 0.5, 0.9],
      [1, 1, 1],
      [0.01, 0, 0.3],
    ] as const) {
      const back = labToSrgb(...srgbToLab(...c));
      back.forEach((v, i) => expect(v).toBeCloseTo(c[i], 5));
    }
    expect(srgbToLab(1, 1, 1)[0]).toBeCloseTo(100, 3);
  });

  it('colorize indexes the table by value, clamping and treating NaN as 0', () => {
    const img = colorize([0, 1, 0.5, 2, -1, NaN], 3, 2, 'viridis');
    const px = (i: number) => Array.from(img.data.subarray(i * 3, i * 3 + 3));
    expect(px(0)).toEqual(rgbAt('viridis', 0));
    expect(px(1)).toEqual(rgbAt('viridis', 255));
    expect(px(2)).toEqual(rgbAt('viridis', 128));
    expect(px(3)).toEqual(rgbAt('viridis', 255));
    expect(px(4)).toEqual(rgbAt('viridis', 0));
    expect(px(5)).toEqual(rgbAt('viridis', 0));
  });
});
