import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { NoiseSchedule } from '../../../src/engine/diffusion/schedule.js';
import { drawSeed, gaussian, gaussian64, mulberry32 } from '../../../src/engine/diffusion/noise.js';
import { attentionRow, gridFor, guide, resizeMaps, tapRow } from '../../../src/engine/diffusion/layout.js';
import { float16BitsToFloat32, float32ToFloat16Bits } from '../../../src/engine/onnx/fp16.js';
import { decodeNpy, encodeNpy } from '../../../src/engine/export/npy.js';
import { ByteLru } from '../../../src/engine/util/lru.js';
import { median } from '../../../src/engine/util/timer.js';

describe('noise', () => {
  it('mulberry32 is deterministic and 32-bit', () => {
    const a = mulberry32(42);
    const b = mulberry32(42);
    const xs = Array.from({ length: 5 }, () => a());
    expect(xs).toEqual(Array.from({ length: 5 }, () => b()));
    for (const x of xs) expect(x >>> 0).toBe(x);
    expect(mulberry32(43)()).not.toBe(xs[0]);
  });

  it('gaussian noise has unit moments', () => {
    const g = gaussian64(7, 200_000);
    const mean = g.reduce((a, b) => a + b, 0) / g.length;
    const varr = g.reduce((a, b) => a + (b - mean) ** 2, 0) / g.length;
    expect(Math.abs(mean)).toBeLessThan(0.01);
    expect(Math.abs(varr - 1)).toBeLessThan(0.01);
    expect(gaussian(7, 3)).toEqual(Float32Array.from(g.slice(0, 3)));
  });

  it('ensemble draws use seed + k, wrapping at 2^32', () => {
    expect(drawSeed(5, 2)).toBe(7);
    expect(drawSeed(2 ** 32 - 1, 1)).toBe(0);
  });

  const golden = path.join(__dirname, '../../fixtures/noise-golden.json');
  it.skipIf(!fs.existsSync(golden))('matches the Python reference generator bit for bit (test/fixtures/noise-golden.json)', () => {
    const g = JSON.parse(fs.readFileSync(golden, 'utf8')) as Record<string, number[]>;
    for (const [key, values] of Object.entries(g)) {
      const seed = Number(/^seed(\d+)/.exec(key)![1]);
      if (key.endsWith('_uint32')) {
        const next = mulberry32(seed);
        expect(values.map(() => next())).toEqual(values);
      } else {
        const ours = gaussian64(seed, values.length);
        values.forEach((v, i) => expect(ours[i]).toBeCloseTo(v, 12));
      }
    }
  });
});

describe('schedule', () => {
  const s = new NoiseSchedule({ beta_start: 0.00085, beta_end: 0.012, beta_schedule: 'scaled_linear', num_train_timesteps: 1000 });
  it('matches the SD scaled-linear schedule', () => {
    expect(s.alphaBar(0)).toBeCloseTo(1 - 0.00085, 10);
    // diffusers' alphas_cumprod for SD 1.x/2.x: ≈0.99915, t=999 ≈ 0.00466
    expect(s.alphaBar(999)).toBeCloseTo(0.00466, 4);
    expect(s.alphaBar(50)).toBeGreaterThan(s.alphaBar(500));
  });
  it('adds noise as √ā·x0 + √(1−ā)·ε', () => {
    const x0 = Float32Array.of(1, -2);
    const eps = Float64Array.of(0.5, 0.25);
    const a = s.alphaBar(50);
    const out = s.addNoise(x0, eps, 50);
    expect(out[0]).toBeCloseTo(Math.sqrt(a) * 1 + Math.sqrt(1 - a) * 0.5, 6);
    expect(out[1]).toBeCloseTo(Math.sqrt(a) * -2 + Math.sqrt(1 - a) * 0.25, 6);
  });
  it('rejects timesteps outside the schedule with a clear error', () => {
    expect(() => s.alphaBar(1000)).toThrow(/outside 0…999/);
    expect(() => new NoiseSchedule({ beta_schedule: 'karras' })).toThrow(/not supported/);
  });
});

describe('layout', () => {
  it('reads [b, HW, C] token taps and [b, C, H, W] map taps into [HW, C]', () => {
    const tokens = Float32Array.from({ length: 2 * 4 * 3 }, (_, i) => i);
    const r = tapRow([2, 4, 3], tokens, 1, 8, 8, 'x');
    expect([r.height, r.width, r.channels]).toEqual([2, 2, 3]);
    expect(Array.from(r.data)).toEqual(Array.from(tokens.slice(12)));
    const maps = Float32Array.from({ length: 1 * 2 * 2 * 2 }, (_, i) => i); // C=2, H=W=2
    const m = tapRow([1, 2, 2, 2], maps, 0, 4, 4, 'y');
    expect(Array.from(m.data)).toEqual([0, 4, 1, 5, 2, 6, 3, 7]);
    expect(() => tapRow([4], tokens, 0, 2, 2, 'z')).toThrow(/not a token sequence/);
  });
  it('lays tokens on the latent aspect ratio', () => {
    expect(gridFor(256, 64, 64)).toEqual({ height: 16, width: 16 });
    expect(gridFor(8, 32, 64)).toEqual({ height: 2, width: 4 });
  });
  it('guides features', () => {
    expect(Array.from(guide(Float32Array.of(1, 1), Float32Array.of(2, 0), 4))).toEqual([5, -3]);
  });
  it('averages attention over heads for one batch row and transposes to [L, HW]', () => {
    // batch 2, heads 2, HW 2, L 3
    const data = new Float32Array(2 * 2 * 2 * 3);
    data.set([1, 0, 0, 0, 1, 0], 12); // row 1, head 0
    data.set([0, 0, 1, 0, 1, 0], 18); // row 1, head 1
    const r = attentionRow([4, 2, 3], data, 2, 1);
    expect(r.tokens).toBe(3);
    expect(Array.from(r.maps)).toEqual([0.5, 0, 0, 1, 0.5, 0]);
  });
  it('resizes maps bilinearly and keeps constants constant', () => {
    const out = resizeMaps(Float32Array.of(2, 2, 2, 2), 1, 2, 2, 4, 4);
    expect(Array.from(out).every((x) => Math.abs(x - 2) < 1e-6)).toBe(true);
  });
});

describe('fp16, npy, caches', () => {
  it('round-trips float16', () => {
    const x = Float32Array.of(0, 1, -2.5, 65504, 1e-3);
    const back = float16BitsToFloat32(float32ToFloat16Bits(x));
    x.forEach((v, i) => expect(back[i]).toBeCloseTo(v, 3));
    expect(float32ToFloat16Bits(Float32Array.of(1))[0]).toBe(0x3c00);
  });
  it('writes .npy that reads back bit-exactly, header aligned to 64 bytes', () => {
    const data = Float32Array.from({ length: 12 }, (_, i) => i / 7);
    const buf = encodeNpy(data, [3, 4]);
    expect((10 + buf.readUInt16LE(8)) % 64).toBe(0);
    const back = decodeNpy(buf);
    expect(back.shape).toEqual([3, 4]);
    expect(Buffer.from(back.data.buffer).equals(Buffer.from(data.buffer))).toBe(true);
    expect(() => encodeNpy(data, [5])).toThrow(/holds 5 values/);
  });
  it('bounds caches by bytes, evicting least recently used', () => {
    const c = new ByteLru<Float32Array>(32, (v) => v.byteLength);
    c.set('a', new Float32Array(4));
    c.set('b', new Float32Array(4));
    c.get('a');
    c.set('c', new Float32Array(4));
    expect(c.get('b')).toBeUndefined();
    expect(c.get('a')).toBeDefined();
    expect(c.bytes).toBeLessThanOrEqual(32);
  });
  it('takes medians', () => {
    expect(median([3, 1, 2])).toBe(2);
    expect(median([4, 1, 2, 3])).toBe(2.5);
  });
});
