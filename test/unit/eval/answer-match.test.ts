/**
 * Answer matching against hand-written cases, one block per rule of the table
 * in src/engine/eval/answer-match.ts, plus the normalisation it relies on and
 * the option-string parser used by the MMVP reader.
 */
import { describe, expect, it } from 'vitest';
import { chooseOption, matchAnswer, optionsFromList, parseOptionString, referenceOption } from '../../../src/engine/eval/answer-match.js';
import { canonicalTokens, words } from '../../../src/engine/eval/normalize.js';

const openClosed = parseOptionString('(a) Open (b) Closed')!;
const colours = optionsFromList(['red', 'dark red', 'blue']);

describe('normalisation', () => {
  it('lower-cases, strips punctuation and articles, maps number words and yes/no synonyms', () => {
    expect(canonicalTokens('The answer is: Two!')).toEqual(['answer', 'is', '2']);
    expect(canonicalTokens('twenty-one circles')).toEqual(['21', 'circles']);
    expect(canonicalTokens('3.5, 1,000')).toEqual(['3.5', '1000']);
    expect(canonicalTokens("Yeah, it isn't.")).toEqual(['yes', 'it', 'is', 'not']);
    expect(canonicalTokens('Nope')).toEqual(['no']);
    expect(words('A red circle.')).toEqual(['a', 'red', 'circle']);
  });
});

describe('option strings', () => {
  it('parses MMVP "(a) … (b) …" and other marker styles', () => {
    expect(openClosed).toEqual([
      { letter: 'a', text: 'Open' },
      { letter: 'b', text: 'Closed' },
    ]);
    expect(parseOptionString('a) up b) down c) left')).toEqual([
      { letter: 'a', text: 'up' },
      { letter: 'b', text: 'down' },
      { letter: 'c', text: 'left' },
    ]);
    expect(parseOptionString('A. Yes B. No')?.map((o) => o.text)).toEqual(['Yes', 'No']);
    expect(parseOptionString('just one thing')).toBeUndefined();
    expect(parseOptionString('(a) only')).toBeUndefined();
  });

  it('lists take letters in order and drop a matching marker', () => {
    expect(optionsFromList(['(a) Open', 'b. Closed', '(d) odd'])).toEqual([
      { letter: 'a', text: 'Open' },
      { letter: 'b', text: 'Closed' },
      { letter: 'c', text: '(d) odd' },
    ]);
  });

  it('resolves the reference by letter or by text', () => {
    expect(referenceOption('(b)', openClosed)).toBe(1);
    expect(referenceOption('B', openClosed)).toBe(1);
    expect(referenceOption('open', openClosed)).toBe(0);
    expect(referenceOption('(c)', openClosed)).toBe(-1);
    expect(referenceOption('ajar', openClosed)).toBe(-1);
  });
});

describe('multiple choice', () => {
  it('letter rule: alone, bracketed, with a period, leading, "option x"', () => {
    for (const p of ['b', 'B', '(b)', 'B.', 'b)', '(b) Closed', 'B. closed', 'Option B', 'Answer: (b)']) {
      expect(matchAnswer(p, '(b)', openClosed), p).toMatchObject({ correct: true, rule: 'letter', chosen: 1 });
    }
    expect(matchAnswer('(a) Closed', '(b)', openClosed)).toMatchObject({ correct: false, rule: 'letter', chosen: 0 });
    // A bare "a" before more words is the article, not option (a).
    expect(chooseOption('a closed door', openClosed)).toEqual({ chosen: 1, rule: 'option-leading' });
    expect(chooseOption('(e)', openClosed)).toEqual({ rule: 'none' });
  });

  it('option text: exact, leading (longest wins), contains (one option, short, no negation)', () => {
    expect(matchAnswer('Closed.', '(b)', openClosed)).toMatchObject({ correct: true, rule: 'option-exact' });
    expect(chooseOption('dark red, I think', colours)).toEqual({ chosen: 1, rule: 'option-leading' });
    expect(chooseOption('the door is closed', openClosed)).toEqual({ chosen: 1, rule: 'option-contains' });
    expect(chooseOption('it is dark red', colours)).toEqual({ chosen: 1, rule: 'option-contains' });
    expect(chooseOption('it is red or blue', colours)).toEqual({ rule: 'ambiguous' });
    expect(chooseOption('it is not open', openClosed)).toEqual({ rule: 'none' });
    expect(chooseOption('one two three four five six seven open', openClosed)).toEqual({ rule: 'none' });
    expect(chooseOption('', openClosed)).toEqual({ rule: 'none' });
  });

  it('reference given as option text is compared by option', () => {
    expect(matchAnswer('b', 'Closed', openClosed).correct).toBe(true);
    expect(matchAnswer('open', 'Closed', openClosed).correct).toBe(false);
  });
});

describe('short answers', () => {
  it('exact after normalisation: case, punctuation, articles, number words, yes/no synonyms', () => {
    expect(matchAnswer('Red.', 'red')).toMatchObject({ correct: true, rule: 'exact' });
    expect(matchAnswer('two', '2')).toMatchObject({ correct: true, rule: 'exact' });
    expect(matchAnswer('2', 'Two')).toMatchObject({ correct: true, rule: 'exact' });
    expect(matchAnswer('A circle', 'circle')).toMatchObject({ correct: true, rule: 'exact' });
    expect(matchAnswer('Yep!', 'yes')).toMatchObject({ correct: true, rule: 'exact' });
    expect(matchAnswer('False', 'no')).toMatchObject({ correct: true, rule: 'exact' });
  });

  it('leading: the answer starts with the reference', () => {
    expect(matchAnswer('red circle', 'red')).toMatchObject({ correct: true, rule: 'leading' });
    expect(matchAnswer('Yes, there is.', 'yes')).toMatchObject({ correct: true, rule: 'leading' });
    expect(matchAnswer('Two circles', '2')).toMatchObject({ correct: true, rule: 'leading' });
    expect(matchAnswer('no, it is blue', 'yes')).toMatchObject({ correct: false });
  });

  it('contains: short, no negation, not for yes/no', () => {
    expect(matchAnswer('The circle is red.', 'red')).toMatchObject({ correct: true, rule: 'contains' });
    expect(matchAnswer("It isn't red", 'red')).toMatchObject({ correct: false, rule: 'none' });
    expect(matchAnswer('there is no red', 'red')).toMatchObject({ correct: false });
    expect(matchAnswer('I think yes', 'yes')).toMatchObject({ correct: false });
    expect(matchAnswer('one two three four five six seven red', 'red')).toMatchObject({ correct: false });
    expect(matchAnswer('reddish', 'red')).toMatchObject({ correct: false });
  });

  it('zero: "no …" answers a count of 0; empty answers are wrong', () => {
    expect(matchAnswer('No triangles', '0')).toMatchObject({ correct: true, rule: 'zero' });
    expect(matchAnswer('none', 'zero')).toMatchObject({ correct: true, rule: 'exact' });
    expect(matchAnswer('   ', 'red')).toMatchObject({ correct: false, rule: 'none' });
  });
});
