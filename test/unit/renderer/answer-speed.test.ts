/** The per-column speed line: decode rate over tokens 2…n and the time after the first token. */
import { describe, expect, it } from 'vitest';
import { answerSpeed } from '../../../src/renderer/lib/format.js';

describe('answerSpeed', () => {
  it('shows no rate for a one-token answer (it all came out of the prefill)', () => {
    expect(answerSpeed({ tokens: 1, ms: 200, prefillMs: 150, decodeMs: 0 })).toBe('1 token · prefill 150 ms');
  });
  it('divides tokens 2…n by the decode time, not all tokens by the wall time', () => {
    expect(answerSpeed({ tokens: 11, ms: 2000, prefillMs: 480.4, decodeMs: 500 })).toBe('11 tokens · prefill 480 ms · 20.0 tok/s');
  });
  it('says what it knows for answers from an older engine (no timings)', () => {
    expect(answerSpeed({ tokens: 3, ms: 900 })).toBe('3 tokens');
  });
});
