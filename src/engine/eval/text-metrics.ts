/**
 * Text-overlap metrics for free-form outputs, used by the leakage probe to
 * score an answer or caption against a reference and against a mismatched
 * prompt: token-level F1 (SQuAD-style) and a CIDEr-style tf-idf n-gram score
 * (CIDEr-D as in the COCO caption evaluation code, by default).
 *
 * Token F1 over canonical tokens (normalize.ts: lower case, no punctuation,
 * no articles, number words as digits). With c = |multiset(P) ∩ multiset(R)|:
 *   precision = c/|P|, recall = c/|R|, F1 = 2·precision·recall/(precision+recall);
 *   F1 = 0 when c = 0; F1 = 1 when both are empty, 0 when only one is.
 *
 * CIDEr over words (lower case, no punctuation, articles kept), n = 1…4.
 * The corpus is a list of reference sets, one per item (N sets); for an n-gram g
 *   df(g) = number of reference sets containing g,
 *   idf(g) = ln N − ln max(1, df(g))            (g unseen in the corpus: ln N),
 *   v_n(x)[g] = count of g in x · idf(g),        ‖v_n(x)‖ its Euclidean norm.
 * For a candidate c and one reference s:
 *   CIDEr-D (default):  sim_n = Σ_g min(v_n(c)[g], v_n(s)[g])·v_n(s)[g] / (‖v_n(c)‖·‖v_n(s)‖)
 *                               · exp(−(|c| − |s|)² / (2σ²)),  σ = 6, |x| = words
 *   CIDEr (plain):      sim_n = v_n(c)·v_n(s) / (‖v_n(c)‖·‖v_n(s)‖)   (no clipping, no penalty)
 *   (sim_n = 0 when either norm is 0, e.g. a one-word text has no 2-grams.)
 *   score(c, S) = scale · (1/|S|) Σ_{s∈S} (1/4) Σ_{n=1..4} sim_n(c, s),
 *   scale = 10 for CIDEr-D (the COCO code's factor), 1 for plain CIDEr.
 * So a perfect match scores 10 under CIDEr-D only when every n-gram order
 * exists in both texts; one-word answers top out at 2.5 (only n = 1 counts),
 * and idf is 0 for an n-gram every reference set contains.
 */
import { canonicalTokens, words } from './normalize.js';

/** Token-level F1 between a prediction and a reference (see the file comment). */
export function tokenF1(prediction: string, reference: string): number {
  const p = canonicalTokens(prediction);
  const r = canonicalTokens(reference);
  if (!p.length || !r.length) return p.length === r.length ? 1 : 0;
  const counts = new Map<string, number>();
  for (const t of r) counts.set(t, (counts.get(t) ?? 0) + 1);
  let common = 0;
  for (const t of p) {
    const k = counts.get(t) ?? 0;
    if (k > 0) {
      common++;
      counts.set(t, k - 1);
    }
  }
  if (!common) return 0;
  const precision = common / p.length;
  const recall = common / r.length;
  return (2 * precision * recall) / (precision + recall);
}

/** n-gram counts (n = 1…maxN) of a word list; keys are words joined by spaces. */
export function ngramCounts(ws: readonly string[], maxN = 4): Array<Map<string, number>> {
  const out: Array<Map<string, number>> = [];
  for (let n = 1; n <= maxN; n++) {
    const m = new Map<string, number>();
    for (let i = 0; i + n <= ws.length; i++) {
      const g = ws.slice(i, i + n).join(' ');
      m.set(g, (m.get(g) ?? 0) + 1);
    }
    out.push(m);
  }
  return out;
}

export interface CiderOptions {
  /** 'cider-d' (clipped, length penalty, ×10; the default) or plain 'cider' (cosine). */
  variant?: 'cider-d' | 'cider';
  /** Length-penalty width for CIDEr-D. */
  sigma?: number;
}

interface Vec {
  v: Array<Map<string, number>>;
  norms: number[];
  length: number;
}

/** CIDEr scorer with document frequencies fixed from a corpus of reference sets. */
export class CiderScorer {
  private df = new Map<string, number>();
  private logN: number;
  private variant: 'cider-d' | 'cider';
  private sigma: number;

  constructor(referenceSets: ReadonlyArray<readonly string[]>, opts: CiderOptions = {}) {
    this.variant = opts.variant ?? 'cider-d';
    this.sigma = opts.sigma ?? 6;
    this.logN = Math.log(Math.max(1, referenceSets.length));
    for (const set of referenceSets) {
      const seen = new Set<string>();
      for (const ref of set) for (const m of ngramCounts(words(ref))) for (const g of m.keys()) seen.add(g);
      for (const g of seen) this.df.set(g, (this.df.get(g) ?? 0) + 1);
    }
  }

  /** idf(g) = ln N − ln max(1, df(g)). */
  idf(gram: string): number {
    return this.logN - Math.log(Math.max(1, this.df.get(gram) ?? 0));
  }

  private vec(text: string): Vec {
    const ws = words(text);
    const v = ngramCounts(ws).map((m) => new Map([...m].map(([g, c]) => [g, c * this.idf(g)])));
    const norms = v.map((m) => Math.sqrt([...m.values()].reduce((s, x) => s + x * x, 0)));
    return { v, norms, length: ws.length };
  }

  private sim(c: Vec, s: Vec): number {
    let total = 0;
    for (let n = 0; n < 4; n++) {
      if (!c.norms[n] || !s.norms[n]) continue;
      let dot = 0;
      for (const [g, x] of c.v[n]) {
        const y = s.v[n].get(g);
        if (y === undefined) continue;
        dot += this.variant === 'cider-d' ? Math.min(x, y) * y : x * y;
      }
      let val = dot / (c.norms[n] * s.norms[n]);
      if (this.variant === 'cider-d') {
        const delta = c.length - s.length;
        val *= Math.exp(-(delta * delta) / (2 * this.sigma * this.sigma));
      }
      total += val;
    }
    return total / 4;
  }

  /** Score of a candidate against its reference set (see the file comment). */
  score(candidate: string, references: readonly string[]): number {
    if (!references.length) return 0;
    const c = this.vec(candidate);
    let sum = 0;
    for (const r of references) sum += this.sim(c, this.vec(r));
    return ((this.variant === 'cider-d' ? 10 : 1) * sum) / references.length;
  }
}

/** Mean of a list (0 for an empty list). */
export function mean(xs: readonly number[]): number {
  return xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : 0;
}
