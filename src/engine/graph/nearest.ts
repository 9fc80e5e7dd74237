/**
 * "Did you mean ...?" for tap names, cheap enough for UNet graphs with ~10k
 * nodes and tens of thousands of tensor names.
 *
 * Full edit distance against every name would cost O(names × len²). Instead a
 * character-bigram overlap score (linear in the total length of the names)
 * preselects a short list, and only that list is ranked by Levenshtein
 * distance. Comparisons ignore case.
 */

/** The `count` names closest to `query`, best first, without duplicates. */
export function nearestNames(query: string, pool: Iterable<string>, count = 5, shortlist = 64): string[] {
  const q = query.toLowerCase();
  const qGrams = bigramCounts(q);
  const seen = new Set<string>();
  const scored: Array<{ name: string; score: number }> = [];
  for (const name of pool) {
    if (!name || seen.has(name)) continue;
    seen.add(name);
    scored.push({ name, score: bigramSimilarity(qGrams, q.length, name.toLowerCase()) });
  }
  scored.sort((a, b) => b.score - a.score);
  const candidates = scored.slice(0, Math.max(shortlist, count));
  const ranked = candidates.map((c) => ({ name: c.name, d: levenshtein(q, c.name.toLowerCase()), score: c.score }));
  ranked.sort((a, b) => a.d - b.d || b.score - a.score || a.name.length - b.name.length);
  return ranked.slice(0, count).map((r) => r.name);
}

const bigram = (s: string, i: number): number => s.charCodeAt(i) * 65536 + s.charCodeAt(i + 1);

function bigramCounts(s: string): Map<number, number> {
  const m = new Map<number, number>();
  for (let i = 0; i < s.length - 1; i++) {
    const g = bigram(s, i);
    m.set(g, (m.get(g) ?? 0) + 1);
  }
  return m;
}

/** Dice coefficient over character bigrams (multiset), in [0, 1]. */
function bigramSimilarity(qGrams: Map<number, number>, qLen: number, s: string): number {
  if (qLen < 2 || s.length < 2) return qLen === s.length ? 1 : 0;
  const used = new Map<number, number>();
  let common = 0;
  for (let i = 0; i < s.length - 1; i++) {
    const g = bigram(s, i);
    const have = qGrams.get(g);
    if (!have) continue;
    const u = used.get(g) ?? 0;
    if (u < have) {
      used.set(g, u + 1);
      common++;
    }
  }
  return (2 * common) / (qLen - 1 + (s.length - 1));
}

/** Classic Levenshtein distance with two rolling rows. */
export function levenshtein(a: string, b: string): number {
  if (a === b) return 0;
  if (a.length === 0) return b.length;
  if (b.length === 0) return a.length;
  let prev = new Array<number>(b.length + 1);
  let cur = new Array<number>(b.length + 1);
  for (let j = 0; j <= b.length; j++) prev[j] = j;
  for (let i = 1; i <= a.length; i++) {
    cur[0] = i;
    const ca = a.charCodeAt(i - 1);
    for (let j = 1; j <= b.length; j++) {
      const cost = ca === b.charCodeAt(j - 1) ? 0 : 1;
      cur[j] = Math.min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + cost);
    }
    [prev, cur] = [cur, prev];
  }
  return prev[b.length];
}
