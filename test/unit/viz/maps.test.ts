/**
 * Derived maps (difference, norm, channels, strongest channels, ranges) and
 * upsampling semantics (nearest cells; bilinear with half-pixel centres as
 * PyTorch's align_corners=False), on inputs small enough to check by hand.
 */
import { describe, expect, it } from 'vitest';
import { channelMap, differenceMap, normalize01, normMap, strongestChannels, tapBranches, topChannels, valueRange } from '../../../src/engine/viz/maps.js';
import { resizeChannels, resizeRgb, resizeScalar } from '../../../src/engine/viz/resample.js';

// 2×2 grid, 3 channels: ch0 varies a lot, ch1 is large but flat, ch2 varies a little.
const f = { height: 2, width: 2, channels: 3, data: Float32Array.from([0, 5, 1, 4, 5, 1.5, 0, 5, 1, 4, 5, 1.5]) };

describe('derived maps', () => {
  it('difference is cond − uncond and tapBranches builds it', () => {
    const cond = { ...f };
    const uncond = { ...f, data: f.data.map((v) => v / 2) };
    expect(Array.from(differenceMap(cond, uncond).data)).toEqual(Array.from(f.data.map((v) => v / 2)));
    const b = tapBranches({ alias: 'x', tensorName: 'x', height: 2, width: 2, channels: 3, data: f.data, cond: cond.data, uncond: uncond.data });
    expect(b.difference?.data[1]).toBe(2.5);
    expect(tapBranches({ alias: 'x', tensorName: 'x', height: 2, width: 2, channels: 3, data: f.data }).difference).toBeUndefined();
    expect(() => differenceMap(cond, { ...f, channels: 2, height: 3, data: new Float32Array(12) })).toThrow(/shapes differ/);
  });

  it('norm is the per-token L2 norm', () => {
    const n = normMap(f);
    expect(n.data[0]).toBeCloseTo(Math.hypot(0, 5, 1), 6);
    expect(n.data[1]).toBeCloseTo(Math.hypot(4, 5, 1.5), 6);
  });

  it('channel maps and top-k by variance or mean', () => {
    expect(Array.from(channelMap(f, 2).data)).toEqual([1, 1.5, 1, 1.5]);
    expect(topChannels(f, 2, 'variance')).toEqual([0, 2]);
    expect(topChannels(f, 3, 'mean')).toEqual([1, 0, 2]);
    const s = strongestChannels(f, 1);
    expect(s.channels).toEqual([0]);
    expect(s.scores[0]).toBeCloseTo(4, 6); // population variance of 0,4,0,4
    expect(() => channelMap(f, 3)).toThrow(/outside/);
  });

  it('ranges and 0…1 scaling (flat maps become 0.5)', () => {
    expect(valueRange([3, -1, NaN, 2])).toEqual({ min: -1, max: 3 });
    expect(Array.from(normalize01([3, -1, 1]))).toEqual([1, 0, 0.5]);
    expect(Array.from(normalize01([2, 2]))).toEqual([0.5, 0.5]);
  });
});

describe('upsampling', () => {
  it('nearest repeats each cell', () => {
    const out = resizeScalar({ height: 2, width: 2, data: Float32Array.from([1, 2, 3, 4]) }, 4, 4, 'nearest');
    expect(Array.from(out.data)).toEqual([1, 1, 2, 2, 1, 1, 2, 2, 3, 3, 4, 4, 3, 3, 4, 4]);
  });

  it('bilinear matches align_corners=False (half-pixel centres, clamped edges)', () => {
    // torch.nn.functional.interpolate(tensor([[[[0., 1.]]]]), size=(1, 4), mode='bilinear') → [0, .25, .75, 1]
    expect(Array.from(resizeChannels([0, 1], 1, 2, 1, 1, 4, 'bilinear'))).toEqual([0, 0.25, 0.75, 1]);
    const out = resizeScalar({ height: 2, width: 2, data: Float32Array.from([0, 1, 2, 3]) }, 4, 4, 'bilinear');
    expect(out.data[0]).toBe(0);
    expect(out.data[15]).toBe(3);
    expect(out.data[5]).toBeCloseTo(0.25 * 1 + 0.25 * 2 * 1, 6); // (0.25, 0.25) → 0.75
  });

  it('RGB resize keeps bytes and is a no-op at the same size', () => {
    const img = { width: 1, height: 1, data: Uint8Array.from([10, 20, 30]) };
    expect(resizeRgb(img, 1, 1)).toBe(img);
    expect(Array.from(resizeRgb(img, 2, 2).data)).toEqual([10, 20, 30, 10, 20, 30, 10, 20, 30, 10, 20, 30]);
  });
});
