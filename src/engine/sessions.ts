/**
 * SessionPool: opens each ONNX model of a pack lazily, once, and remembers
 * which execution provider it really got. Sessions for edited graphs (extra
 * tap outputs, pruned) are keyed by their output set and kept in a small LRU
 * because each one holds its own copy of the weights in memory.
 */
import type { ProviderChoice } from './onnx/providers.js';
import { OnnxSession } from './onnx/session.js';

export interface PoolOptions {
  provider?: ProviderChoice;
  /** How many edited-graph sessions to keep alive per base model. */
  editedPerModel?: number;
}

export class SessionPool {
  private sessions = new Map<string, Promise<OnnxSession>>();
  private lru: string[] = [];
  private providerByLabel = new Map<string, string>();
  private disposed = false;

  constructor(private opts: PoolOptions = {}) {}

  /** Open (or reuse) a session; `key` distinguishes edited variants of the same file. */
  get(path: string, label: string, key = ''): Promise<OnnxSession> {
    const id = `${path}\u0000${key}`;
    let p = this.sessions.get(id);
    if (!p) {
      p = OnnxSession.open(path, { provider: this.opts.provider, label }).then((s) => {
        this.providerByLabel.set(label, s.providerNote ? `${s.provider} (${s.providerNote})` : s.provider);
        if (this.disposed) s.dispose();
        return s;
      });
      // A failed open must not poison the pool: the next call retries.
      p.catch(() => this.sessions.delete(id));
      this.sessions.set(id, p);
      if (key) this.touch(id, path);
    } else if (key) this.touch(id, path);
    return p;
  }

  private touch(id: string, path: string): void {
    this.lru = this.lru.filter((x) => x !== id).concat(id);
    const limit = this.opts.editedPerModel ?? 2;
    const same = this.lru.filter((x) => x.startsWith(`${path}\u0000`));
    while (same.length > limit) {
      const victim = same.shift()!;
      this.lru = this.lru.filter((x) => x !== victim);
      const s = this.sessions.get(victim);
      this.sessions.delete(victim);
      void s?.then((x) => x.dispose()).catch(() => undefined);
    }
  }

  providers(): Record<string, string> {
    return Object.fromEntries(this.providerByLabel);
  }

  isLoaded(label: string): boolean {
    return this.providerByLabel.has(label);
  }

  dispose(): void {
    this.disposed = true;
    for (const p of this.sessions.values()) void p.then((s) => s.dispose()).catch(() => undefined);
    this.sessions.clear();
    this.lru = [];
  }
}
