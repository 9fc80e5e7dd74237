/**
 * Speed and ETA of the model manager's progress: a steady moving average
 * under bursty chunks, resumed bytes not counted as speed, readable lines.
 */
import { describe, expect, it } from 'vitest';
import { RateMeter, etaSeconds, formatDuration, formatProgress, formatRate, formatSize } from '../../../src/engine/hub/progress.js';

describe('RateMeter', () => {
  it('converges to the true rate and ignores sub-100 ms jitter', () => {
    let t = 0;
    const m = new RateMeter(1000, () => t);
    m.add(0);
    for (let i = 0; i < 200; i++) {
      t += 50;
      // 1 MB/s on average, delivered in uneven chunks.
      m.add(i % 2 ? 80_000 : 20_000);
    }
    expect(m.bytesPerSecond).toBeGreaterThan(0.95e6);
    expect(m.bytesPerSecond).toBeLessThan(1.05e6);
  });

  it('restarts timing after a pause without inventing a burst', () => {
    let t = 0;
    const m = new RateMeter(1000, () => t);
    m.add(0);
    t += 1000;
    m.add(1e6);
    m.pause();
    t += 60_000;
    expect(m.add(5e8)).toBeCloseTo(1e6, -3);
  });
});

describe('formatting', () => {
  it('prints sizes, rates, durations and a progress line', () => {
    expect(formatSize(3.44e9)).toBe('3.44 GB');
    expect(formatSize(340_000)).toBe('340 kB');
    expect(formatRate(38.1e6)).toBe('38.1 MB/s');
    expect(formatDuration(49)).toBe('0:49');
    expect(formatDuration(3 * 3600 + 120)).toBe('3h02m');
    expect(formatDuration(undefined)).toBe('--:--');
    expect(etaSeconds(100e6, 0)).toBeUndefined();
    expect(etaSeconds(100e6, 10e6)).toBe(10);
    const line = formatProgress({
      file: 'unet/weights.pb',
      fileIndex: 1,
      fileCount: 5,
      bytes: 1.55e9,
      fileBytes: 3.44e9,
      totalDone: 2e9,
      total: 4e9,
      speed: 38.1e6,
      etaSeconds: 52,
      phase: 'download',
    });
    expect(line).toBe('unet/weights.pb  50.0%  1.55 GB/3.44 GB  38.1 MB/s  ETA 0:52  (2/5)');
  });
});
