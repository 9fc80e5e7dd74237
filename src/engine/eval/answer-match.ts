/**
 * Answer matching: decides whether a generated answer is right. Language
 * models answer "B.", "(b) Closed", "Two circles" or "It is red." where the
 * key says "(b)", "2" or "red"; a benchmark number is only as good as the
 * rule that reads those, so the rules are fixed, few, and stated here.
 *
 * Both texts are first reduced to canonical tokens (normalize.ts: lower case,
 * punctuation off, articles a/an/the dropped, number words → digits,
 * yes/no synonyms → yes/no). P = the prediction's tokens, R = the
 * reference's, O_k = option k's.
 *
 * Multiple choice (the item has options and its reference names one, by
 * letter "(a)" / "a" / "A." or by the option's text), first rule that fires:
 *
 *   rule            fires when                                            chosen option
 *   letter          the raw answer is a letter alone — "a", "(b)", "B.",  that letter
 *                   "c)" — or starts with "(x)", "x)", "x.", "x:" or
 *                   "option x" / "answer: x", x within the options
 *                   (a bare "a " before more words is the article)
 *   option-exact    P = O_k for one k                                      k
 *   option-leading  P starts with all of O_k; the longest such O_k          k
 *   option-contains O_k occurs in P as a run of whole tokens for exactly    k
 *                   one k (runs inside a longer matched option don't
 *                   count), |P| ≤ |O_k| + 6, and P has no negation
 *                   (not/never/neither/nor/without, or "no" unless O_k
 *                   contains "no")
 *   none/ambiguous  nothing fired, or two options tie                      —
 *   correct ⇔ the chosen option is the reference's option.
 *
 * Short answer (no options, or a reference that names no option):
 *
 *   rule            correct when
 *   exact           P = R
 *   leading         P starts with all of R ("red circle" for "red"; "yes, it
 *                   is" for "yes"; "2 circles" for "two")
 *   contains        R occurs in P as a run of whole tokens, |P| ≤ |R| + 6,
 *                   P has no negation (as above), and R is not yes/no
 *                   ("circle is red" for "red"; "it is not red" is wrong)
 *   zero            R = "0" and P starts with "no" ("no circles" for "0")
 *
 * Everything else is wrong; an empty answer is always wrong.
 */
import type { AnswerOption, MatchRule } from '../../shared/contract.js';

export type { AnswerOption, MatchRule };
import { canonicalTokens, hasNegation, indexOfTokens, startsWithTokens } from './normalize.js';

/** An answer option: its letter (a, b, …) and text. */
export interface MatchResult {
  correct: boolean;
  rule: MatchRule;
  /** Multiple choice: index of the option the answer was read as (absent when none). */
  chosen?: number;
  /** Multiple choice: index of the reference's option. */
  expected?: number;
}

/** How many extra tokens the "contains" rules allow around the matched text. */
export const CONTAINS_SLACK = 6;

const LETTER_ALONE = /^\(?([a-z])\)?[.):]?$/i;
const LETTER_LEAD = /^(?:\(([a-z])\)|([a-z])[.):](?:\s|$))/i;
const LETTER_WORD = /^(?:option|answer|choice)\s*:?\s*\(?([a-z])\)?(?![a-z])/i;

function letterIndex(letter: string, options: readonly AnswerOption[]): number {
  const l = letter.toLowerCase();
  return options.findIndex((o) => o.letter.toLowerCase() === l);
}

/** The option a raw answer names by letter, or -1. */
export function optionByLetter(raw: string, options: readonly AnswerOption[]): number {
  const s = raw.trim();
  const m = LETTER_ALONE.exec(s) ?? LETTER_LEAD.exec(s) ?? LETTER_WORD.exec(s);
  if (!m) return -1;
  return letterIndex(m[1] ?? m[2], options);
}

/** Which option the reference answer names (by letter or by text), or -1. */
export function referenceOption(reference: string, options: readonly AnswerOption[]): number {
  if (!options.length) return -1;
  const byLetter = optionByLetter(reference, options);
  if (byLetter >= 0) return byLetter;
  const r = canonicalTokens(reference).join(' ');
  const hits = options.map((o, i) => (canonicalTokens(o.text).join(' ') === r ? i : -1)).filter((i) => i >= 0);
  return hits.length === 1 ? hits[0] : -1;
}

function sameTokens(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((t, i) => t === b[i]);
}

/** Reads a multiple-choice answer as one option; see the table above. */
export function chooseOption(raw: string, options: readonly AnswerOption[]): { chosen?: number; rule: MatchRule } {
  const byLetter = optionByLetter(raw, options);
  if (byLetter >= 0) return { chosen: byLetter, rule: 'letter' };
  const p = canonicalTokens(raw);
  if (!p.length) return { rule: 'none' };
  const opts = options.map((o) => canonicalTokens(o.text));

  const exact = opts.map((o, i) => (o.length && sameTokens(p, o) ? i : -1)).filter((i) => i >= 0);
  if (exact.length === 1) return { chosen: exact[0], rule: 'option-exact' };
  if (exact.length > 1) return { rule: 'ambiguous' };

  const leading = opts.map((o, i) => (startsWithTokens(p, o) ? i : -1)).filter((i) => i >= 0);
  if (leading.length) {
    const longest = Math.max(...leading.map((i) => opts[i].length));
    const best = leading.filter((i) => opts[i].length === longest);
    return best.length === 1 ? { chosen: best[0], rule: 'option-leading' } : { rule: 'ambiguous' };
  }

  const found = opts.map((o, i) => (indexOfTokens(p, o) >= 0 ? i : -1)).filter((i) => i >= 0);
  // A run inside a longer matched option ("red" inside "dark red") is not a separate hit.
  const hits = found.filter((i) => !found.some((j) => j !== i && opts[j].length > opts[i].length && indexOfTokens(opts[j], opts[i]) >= 0));
  if (hits.length > 1) return { rule: 'ambiguous' };
  if (hits.length === 1) {
    const o = opts[hits[0]];
    if (p.length <= o.length + CONTAINS_SLACK && !hasNegation(p, o)) return { chosen: hits[0], rule: 'option-contains' };
  }
  return { rule: 'none' };
}

/** Short-answer matching against a reference text; see the table above. */
export function matchShortAnswer(raw: string, reference: string): MatchResult {
  const p = canonicalTokens(raw);
  const r = canonicalTokens(reference);
  if (!p.length || !r.length) return { correct: false, rule: 'none' };
  if (sameTokens(p, r)) return { correct: true, rule: 'exact' };
  if (startsWithTokens(p, r)) return { correct: true, rule: 'leading' };
  const yesNo = r.length === 1 && (r[0] === 'yes' || r[0] === 'no');
  if (!yesNo && p.length <= r.length + CONTAINS_SLACK && indexOfTokens(p, r) >= 0 && !hasNegation(p, r)) return { correct: true, rule: 'contains' };
  if (r.length === 1 && r[0] === '0' && p[0] === 'no') return { correct: true, rule: 'zero' };
  return { correct: false, rule: 'none' };
}

/** Is `prediction` a right answer to an item with this reference (and options)? */
export function matchAnswer(prediction: string, reference: string, options?: readonly AnswerOption[]): MatchResult {
  if (!prediction.trim()) return { correct: false, rule: 'none' };
  const expected = options?.length ? referenceOption(reference, options) : -1;
  if (expected < 0 || !options) return matchShortAnswer(prediction, reference);
  const { chosen, rule } = chooseOption(prediction, options);
  return { correct: chosen === expected, rule, expected, ...(chosen !== undefined ? { chosen } : {}) };
}

/**
 * Parses options written as one string, "(a) Open (b) Closed" (MMVP), also
 * "a) Open b) Closed" and "A. Open B. Closed": letters must run a, b, c, …
 * in order. Returns undefined when fewer than two options are found.
 */
export function parseOptionString(s: string): AnswerOption[] | undefined {
  const starts: Array<{ letter: string; at: number; end: number }> = [];
  let from = 0;
  for (let k = 0; k < 26; k++) {
    const l = String.fromCharCode(97 + k);
    const re = new RegExp(`(?:^|\\s)(\\(${l}\\)|${l}[).:])(?=\\s|$)`, 'ig');
    re.lastIndex = from;
    const m = re.exec(s);
    if (!m) break;
    const at = m.index + (m[0].length - m[1].length);
    starts.push({ letter: l, at, end: at + m[1].length });
    from = at + m[1].length;
  }
  if (starts.length < 2) return undefined;
  return starts.map((st, i) => ({ letter: st.letter, text: s.slice(st.end, i + 1 < starts.length ? starts[i + 1].at : s.length).trim() }));
}

/**
 * Options given as a list: letters a, b, c, … in order; a leading marker that
 * agrees with the position ("(a) Open", "a. Open") is removed.
 */
export function optionsFromList(list: readonly string[]): AnswerOption[] {
  return list.map((raw, i) => {
    const letter = String.fromCharCode(97 + i);
    const m = /^\s*(?:\(([a-z])\)|([a-z])[).:])\s+/i.exec(raw);
    const marked = m && (m[1] ?? m[2]).toLowerCase() === letter;
    return { letter, text: (marked ? raw.slice(m[0].length) : raw).trim() };
  });
}
