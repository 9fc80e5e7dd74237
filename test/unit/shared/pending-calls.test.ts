import { describe, expect, it } from 'vitest';
import { TwinLensError } from '../../../src/shared/errors.js';
import { PendingCalls } from '../../../src/shared/pending-calls.js';

describe('PendingCalls', () => {
  it('routes events, settles once, and runs the cleanup once however a call ends', async () => {
    const calls = new PendingCalls<string>();
    const seen: string[] = [];
    let cleaned = 0;
    let messages = 0;
    const a = calls.add('a', { onEvent: (e) => seen.push(e), onMessage: () => messages++, cleanup: () => cleaned++ });
    expect(calls.event('a', 'tok')).toBe(true);
    expect(calls.result('a', 42)).toBe(true);
    expect(calls.result('a', 43)).toBe(false); // a late duplicate is ignored
    expect(calls.event('a', 'late')).toBe(false);
    await expect(a).resolves.toBe(42);
    expect(seen).toEqual(['tok']);
    expect(cleaned).toBe(1);
    expect(messages).toBe(1);

    const b = calls.add('b', { cleanup: () => cleaned++ });
    calls.error('b', { code: 'CANCELLED', message: 'stopped' });
    await expect(b).rejects.toMatchObject({ code: 'CANCELLED', message: 'stopped' });

    const c = calls.add('c', { cleanup: () => cleaned++ });
    const d = calls.add('d', { cleanup: () => cleaned++ });
    expect(() => calls.add('c')).toThrow(/already in flight/);
    calls.failAll(new TwinLensError('ENGINE_CRASHED', 'gone'));
    await expect(c).rejects.toMatchObject({ code: 'ENGINE_CRASHED' });
    await expect(d).rejects.toMatchObject({ code: 'ENGINE_CRASHED' });
    expect(calls.size).toBe(0);
    expect(cleaned).toBe(4);
  });
});
