/**
 * Scoring against hand-computed values: the Wilson interval (values checked
 * with the closed form by hand), accuracy per mode and category, pair
 * accuracy (a pair is right only when both items are), the exact McNemar
 * test of the run diff, and token F1 / CIDEr-D on small worked examples.
 */
import { describe, expect, it } from 'vitest';
import { diffRuns, mcnemarExact } from '../../../src/engine/eval/diff.js';
import type { ItemRecord } from '../../../src/engine/eval/records.js';
import { pairScore, scoreSetting, wilson } from '../../../src/engine/eval/stats.js';
import { CiderScorer, tokenF1 } from '../../../src/engine/eval/text-metrics.js';

function rec(id: string, correct: Record<string, boolean>, extra: Partial<ItemRecord> = {}): ItemRecord {
  return {
    type: 'item',
    setting: 'default',
    id,
    index: Number(id.replace(/\D/g, '')) || 0,
    question: 'q',
    answer: 'a',
    image: 'x.png',
    imageHash: 'h',
    answers: Object.fromEntries(
      Object.entries(correct).map(([m, c]) => [m, { text: c ? 'a' : 'b', correct: c, rule: c ? 'exact' : 'none', ms: 10, tokens: 2, stop: 'eos' }]),
    ),
    ...extra,
  } as ItemRecord;
}

describe('Wilson 95 % interval', () => {
  it('matches hand-computed values', () => {
    // 7/10: centre (0.7 + 1.9208/10)/1.38415 = 0.64449, half 1.95996·√(0.021 + 0.0096037)/1.38415 = 0.24772
    const [lo, hi] = wilson(7, 10);
    expect(lo).toBeCloseTo(0.39678, 5);
    expect(hi).toBeCloseTo(0.89221, 5);
    // 0/10 and 10/10: [0, 0.27753] and [0.72247, 1]
    expect(wilson(0, 10)[0]).toBe(0);
    expect(wilson(0, 10)[1]).toBeCloseTo(0.27753, 5);
    expect(wilson(10, 10)[0]).toBeCloseTo(0.72247, 5);
    expect(wilson(10, 10)[1]).toBeCloseTo(1, 12);
    expect(wilson(45, 60)[0]).toBeCloseTo(0.62768, 5);
    expect(wilson(45, 60)[1]).toBeCloseTo(0.84223, 5);
    expect(wilson(0, 0)).toEqual([0, 1]);
  });
});

describe('accuracy, categories and pairs', () => {
  const records = [
    rec('i1', { clip: true, diffusion: true }, { pair: 'p1', category: 'colour' }),
    rec('i2', { clip: true, diffusion: false }, { pair: 'p1', category: 'colour' }),
    rec('i3', { clip: false, diffusion: true }, { pair: 'p2', category: 'count' }),
    rec('i4', { clip: true, diffusion: true }, { pair: 'p2', category: 'count' }),
    rec('i5', { clip: true, diffusion: false }, { pair: 'p3', category: 'count' }), // partner cut: not a pair
    rec('i6', { clip: false, diffusion: true }),
  ];

  it('counts per mode, per category, and complete pairs only', () => {
    const s = scoreSetting('default', records, ['clip', 'diffusion']);
    expect(s.modes.clip).toMatchObject({ n: 6, correct: 4, errors: 0 });
    expect(s.modes.clip.accuracy).toBeCloseTo(4 / 6, 12);
    expect(s.modes.clip.ci95).toEqual(wilson(4, 6));
    expect(s.modes.clip.categories).toEqual({
      colour: { n: 2, correct: 2, accuracy: 1, ci95: wilson(2, 2) },
      count: { n: 3, correct: 2, accuracy: 2 / 3, ci95: wilson(2, 3) },
    });
    // clip: p1 both right, p2 one wrong → 1/2; diffusion: p1 one wrong, p2 both right → 1/2
    expect(s.modes.clip.pairs).toMatchObject({ n: 2, correct: 1, accuracy: 0.5 });
    expect(s.modes.diffusion.pairs).toMatchObject({ n: 2, correct: 1 });
    expect(s.timing.clip).toEqual({ meanMs: 10, meanTokens: 2 });
  });

  it('has no pair score without pair ids, and counts engine errors as wrong', () => {
    expect(pairScore([rec('i1', { clip: true })], 'clip')).toBeUndefined();
    const e = rec('i1', { clip: false });
    e.answers.clip.error = 'ONNX_RUN_FAILED: boom';
    expect(scoreSetting('default', [e, rec('i2', { clip: true })], ['clip']).modes.clip).toMatchObject({ n: 2, correct: 1, errors: 1 });
  });
});

describe('run diff', () => {
  it('exact McNemar p-values', () => {
    expect(mcnemarExact(0, 0)).toBe(1);
    expect(mcnemarExact(0, 5)).toBeCloseTo(0.0625, 12); // 2·(1/32)
    expect(mcnemarExact(1, 4)).toBeCloseTo(0.375, 12); // 2·(1 + 5)/32
    expect(mcnemarExact(3, 3)).toBe(1);
  });

  it('counts both / only A / only B / neither per mode and lists changed items', () => {
    const a = [rec('i1', { clip: true }), rec('i2', { clip: true }), rec('i3', { clip: false }), rec('i4', { clip: false })];
    const b = [rec('i1', { clip: true }), rec('i2', { clip: false }), rec('i3', { clip: true }), rec('i4', { clip: false }), rec('i5', { clip: true })];
    const d = diffRuns(a, b);
    expect(d.cells).toHaveLength(1);
    expect(d.cells[0]).toMatchObject({ mode: 'clip', both: 1, onlyA: 1, onlyB: 1, neither: 1, unmatched: 1, mcnemarP: 1 });
    expect(d.cells[0].changed.map((c) => [c.id, c.nowRight])).toEqual([
      ['i2', false],
      ['i3', true],
    ]);
  });
});

describe('text metrics', () => {
  it('token F1 on canonical tokens', () => {
    expect(tokenF1('A red circle.', 'red circle')).toBe(1);
    expect(tokenF1('big red square', 'red circle')).toBeCloseTo(0.4, 12); // P 1/3, R 1/2
    expect(tokenF1('two', '2')).toBe(1);
    expect(tokenF1('', '')).toBe(1);
    expect(tokenF1('red', '')).toBe(0);
    expect(tokenF1('blue', 'red')).toBe(0);
  });

  it('CIDEr-D and plain CIDEr on a two-item corpus', () => {
    const corpus = [['a red circle'], ['a blue square']];
    const d = new CiderScorer(corpus);
    expect(d.idf('a')).toBe(0);
    expect(d.idf('red')).toBeCloseTo(Math.LN2, 12);
    expect(d.idf('never seen')).toBeCloseTo(Math.LN2, 12);
    // n = 1, 2, 3 each cosine 1 (the idf-0 "a" drops out of n=1), n = 4 has no 4-grams: 10·3/4
    expect(d.score('a red circle', ['a red circle'])).toBeCloseTo(7.5, 12);
    // n = 1 only: cosine 1/√2, length penalty exp(−(1−3)²/72): 10·0.70711·0.94596/4
    expect(d.score('red', ['a red circle'])).toBeCloseTo(1.6722359, 6);
    expect(d.score('blue square', ['a red circle'])).toBe(0);
    const plain = new CiderScorer(corpus, { variant: 'cider' });
    expect(plain.score('red', ['a red circle'])).toBeCloseTo(Math.SQRT1_2 / 4, 12);
    expect(plain.score('a red circle', ['a red circle', 'a blue square'])).toBeCloseTo(0.75 / 2, 12);
  });
});
