import { describe, expect, it } from 'vitest';
import { ReloadBackoff } from '../../../src/main/reload-backoff.js';

describe('ReloadBackoff', () => {
  it('reloads at once, then waits twice as long each time, then gives up within a minute', () => {
    const b = new ReloadBackoff(5, 60_000, 1_000);
    expect([0, 1, 2, 3, 4].map((i) => b.next(i * 100))).toEqual([0, 1_000, 2_000, 4_000, 8_000]);
    expect(b.next(600)).toBeUndefined();
    expect(b.count).toBe(6);
  });

  it('forgets crashes older than the window', () => {
    const b = new ReloadBackoff(2, 60_000, 1_000);
    expect(b.next(0)).toBe(0);
    expect(b.next(1)).toBe(1_000);
    expect(b.next(61_000)).toBe(0);
  });
});
