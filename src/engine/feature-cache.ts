/**
 * The visual tokens of recent (image, settings) pairs, across requests.
 *
 * Why: the Ask view runs one `ask` per answer column so each column streams
 * and stops on its own; without this, the diffusion-only, fused and
 * fused-xattn columns each paid a UNet pass for the same image, prompt and
 * settings, and so did a re-run. Keyed by what determines the tokens — the
 * image's content hash and every resolved diffusion setting (prompt, t, s,
 * seed, ensemble, tap) or, for CLIP, the image alone — so a hit returns
 * exactly what a fresh extraction would have. Bounded by bytes (LRU); an
 * extraction that fails or is cancelled is not kept.
 */
import type { ResolvedDiffusionSettings } from '../shared/contract.js';
import type { Tokens } from './fusion/visual-tokens.js';
import { ByteLru } from './util/lru.js';

export interface FeatureCacheStats {
  hits: number;
  misses: number;
  entries: number;
}

export class FeatureCache {
  private lru: ByteLru<Tokens>;
  /** Extractions in progress, so two requests for one key share one pass. */
  private inflight = new Map<string, Promise<Tokens>>();
  private stats = { hits: 0, misses: 0 };

  constructor(maxBytes = 64 * 2 ** 20) {
    this.lru = new ByteLru(maxBytes, (t) => t.data.byteLength);
  }

  static diffusionKey(imageHash: string, s: ResolvedDiffusionSettings): string {
    return JSON.stringify(['diffusion', imageHash, s.prompt, s.promptSource, s.t, s.guidance, s.seed, s.ensemble, s.tap]);
  }

  static clipKey(imageHash: string): string {
    return JSON.stringify(['clip', imageHash]);
  }

  /** The cached tokens, or `make()`'s (kept once it succeeds). */
  get(key: string, make: () => Promise<Tokens>): Promise<Tokens> {
    const hit = this.lru.get(key);
    if (hit) {
      this.stats.hits++;
      return Promise.resolve(hit);
    }
    const running = this.inflight.get(key);
    if (running) {
      this.stats.hits++;
      return running;
    }
    this.stats.misses++;
    const p = make().then(
      (t) => {
        this.inflight.delete(key);
        this.lru.set(key, t);
        return t;
      },
      (e: unknown) => {
        this.inflight.delete(key);
        throw e;
      },
    );
    this.inflight.set(key, p);
    return p;
  }

  snapshot(): FeatureCacheStats {
    return { ...this.stats, entries: this.lru.size };
  }

  clear(): void {
    this.lru.clear();
    this.inflight.clear();
  }
}
