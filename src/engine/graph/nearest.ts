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
  const grams = new QueryBigrams(q);
  const seen = new Set<string>();
  const scored: Array<{ name: string; score: number }> = [];
  for (const name of pool) {
    if (!name || seen.has(name)) continue;
    seen.add(name);
    scored.push({ name, score: grams.similarity(name.toLowerCase()) });
  }
  scored.sort((a, b) => b.score - a.score);
  const candidates = scored.slice(0, Math.max(shortlist, count));
  const ranked = candidates.map((c) => ({ name: c.name, d: levenshtein(q, c.name.toLowerCase()), score: c.score }));
  ranked.sort((a, b) => a.d - b.d || b.score - a.score || a.name.length - b.name.length);
  return ranked.slice(0, count).map((r) => r.name);
}

/**
 * The query's character bigrams as a multiset; scores other strings by the
 * Dice coefficient (2·common / (bigrams(a) + bigrams(b))) without allocating
 * per string.
 */
class QueryBigrams {
  private readonly slot = new Map<number, number>();
  private readonly capacity: Int32Array;
  private readonly used: Int32Array;
  private readonly total: number;

  constructor(q: string) {
    const counts: number[] = [];
    for (let i = 0; i < q.length - 1; i++) {
      const g = q.charCodeAt(i) * 65536 + q.charCodeAt(i + 1);
      let k = this.slot.get(g);
      if (k === undefined) {
        k = counts.length;
        this.slot.set(g, k);
        counts.push(0);
      }
      counts[k]++;
    }
    this.capacity = Int32Array.from(counts);
    this.used = new Int32Array(counts.length);
    this.total = Math.max(0, q.length - 1);
  }

  similarity(s: string): number {
    const n = s.length - 1;
    if (this.total === 0 || n <= 0) return 0;
    this.used.fill(0);
    let common = 0;
    for (let i = 0; i < n; i++) {
      const k = this.slot.get(s.charCodeAt(i) * 65536 + s.charCodeAt(i + 1));
      if (k !== undefined && this.used[k] < this.capacity[k]) {
        this.used[k]++;
        common++;
      }
    }
    return (2 * common) / (this.total + n);
  }
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
