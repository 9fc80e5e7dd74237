/**
 * Text normalisation shared by answer matching and the text metrics. A VQA
 * answer is compared as a list of canonical tokens, so "Two.", "2" and "two
 * circles" line up, and a caption is compared as lower-cased words. Keeping
 * both tokenisers here means the matching rules, token F1 and the CIDEr-style
 * score all read text the same documented way.
 *
 * canonicalTokens(s), in order:
 *   1. Unicode NFKC, lower case; "n't" → " not" (so "isn't" carries a negation).
 *   2. Every character that is not a letter or a digit becomes a space, except
 *      a "." between two digits ("3.5" stays one token); "1,000" → "1000".
 *   3. Split on spaces; drop the articles "a", "an", "the".
 *   4. Number words zero…twenty and twenty…ninety (tens) → digits; a tens word
 *      followed by a unit word ("twenty one", "twenty-one") → one number.
 *   5. Yes/no synonyms → "yes" / "no" (tables YES_WORDS / NO_WORDS).
 *
 * words(s) = steps 1–2 only, then split: what CIDEr and the leakage probe
 * count n-grams over (articles kept, as in COCO caption scoring).
 */

const ARTICLES = new Set(['a', 'an', 'the']);

const UNITS: Record<string, number> = {
  zero: 0,
  none: 0,
  one: 1,
  two: 2,
  three: 3,
  four: 4,
  five: 5,
  six: 6,
  seven: 7,
  eight: 8,
  nine: 9,
  ten: 10,
  eleven: 11,
  twelve: 12,
  thirteen: 13,
  fourteen: 14,
  fifteen: 15,
  sixteen: 16,
  seventeen: 17,
  eighteen: 18,
  nineteen: 19,
};

const TENS: Record<string, number> = { twenty: 20, thirty: 30, forty: 40, fifty: 50, sixty: 60, seventy: 70, eighty: 80, ninety: 90 };

/** Words read as "yes". */
export const YES_WORDS = new Set(['yes', 'yeah', 'yep', 'yup', 'true', 'correct', 'affirmative']);
/** Words read as "no". */
export const NO_WORDS = new Set(['no', 'nope', 'nah', 'false', 'incorrect', 'negative']);
/** Tokens that negate what follows; the "contains" matching rules are off when one is present. */
export const NEGATIONS = new Set(['not', 'never', 'neither', 'nor', 'without']);

/** Steps 1–2: lower case, "n't" split off, punctuation to spaces (decimal points kept). */
export function cleanText(s: string): string {
  return s
    .normalize('NFKC')
    .toLowerCase()
    .replace(/n['’]t\b/g, ' not')
    .replace(/(\d),(?=\d{3}(?!\d))/g, '$1')
    .replace(/[^\p{L}\p{N}.]+/gu, ' ')
    .replace(/(?<!\d)\.|\.(?!\d)/g, ' ')
    .trim();
}

/** Lower-cased words with punctuation removed (articles kept): the n-gram tokens of CIDEr. */
export function words(s: string): string[] {
  const c = cleanText(s);
  return c ? c.split(/\s+/) : [];
}

/** The canonical token list used by answer matching and token F1 (steps 1–5 above). */
export function canonicalTokens(s: string): string[] {
  const out: string[] = [];
  const ws = words(s).filter((w) => !ARTICLES.has(w));
  for (let i = 0; i < ws.length; i++) {
    const w = ws[i];
    if (w in TENS) {
      const next = ws[i + 1];
      if (next !== undefined && next in UNITS && UNITS[next] >= 1 && UNITS[next] <= 9) {
        out.push(String(TENS[w] + UNITS[next]));
        i++;
      } else out.push(String(TENS[w]));
    } else if (w in UNITS) out.push(String(UNITS[w]));
    else if (YES_WORDS.has(w)) out.push('yes');
    else if (NO_WORDS.has(w)) out.push('no');
    else out.push(w);
  }
  return out;
}

/** Canonical form as one string (tokens joined by single spaces). */
export function canonical(s: string): string {
  return canonicalTokens(s).join(' ');
}

/** Index of the first occurrence of `needle` as a contiguous run of whole tokens in `hay`, or -1. */
export function indexOfTokens(hay: readonly string[], needle: readonly string[]): number {
  if (!needle.length || needle.length > hay.length) return -1;
  outer: for (let i = 0; i + needle.length <= hay.length; i++) {
    for (let j = 0; j < needle.length; j++) if (hay[i + j] !== needle[j]) continue outer;
    return i;
  }
  return -1;
}

/** Whether `hay` begins with the whole tokens of `prefix`. */
export function startsWithTokens(hay: readonly string[], prefix: readonly string[]): boolean {
  if (!prefix.length || prefix.length > hay.length) return false;
  for (let j = 0; j < prefix.length; j++) if (hay[j] !== prefix[j]) return false;
  return true;
}

/** Whether any token negates (see NEGATIONS; "no" counts unless it is the whole expected answer). */
export function hasNegation(tokens: readonly string[], expected: readonly string[] = []): boolean {
  const expectsNo = expected.includes('no');
  return tokens.some((t) => NEGATIONS.has(t) || (t === 'no' && !expectsNo));
}
