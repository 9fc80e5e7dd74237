/**
 * The real engine (an EngineHost from dist/server) with one test hook: it
 * can freeze the engine process (SIGSTOP) at its next streamed token and
 * thaw it (SIGCONT) once the caller cancels. The tiny fixture pack writes a
 * whole answer in ~0.1 s, faster than a click can travel from the page to
 * the engine, so "stop a generation midway" needs the generation held still
 * while the stop travels; the cancel then lands mid-answer, as it would on a
 * real pack. Product code is untouched: this wraps it from the outside.
 */
import type { EngineEvent } from '../../src/shared/contract.js';

/** The slice of EngineHost this wrapper uses (loaded from dist at run time). */
export interface EngineHostLike {
  readonly state: { state: string; restarts: number; pid?: number; message?: string };
  readonly pid?: number;
  readonly packDir?: string;
  start(): Promise<unknown>;
  onState(cb: (s: never) => void): () => void;
  call(method: string, params: unknown, opts: { signal?: AbortSignal; onEvent?: (e: EngineEvent) => void }): Promise<unknown>;
  restart(opts?: { provider?: 'auto' | 'cpu' | 'cuda' | 'dml' | 'coreml' | 'webgpu' }): Promise<void>;
  killProcess(): void;
  dispose(): Promise<void>;
}

/** Longest freeze, in case nobody cancels. */
const MAX_FREEZE_MS = 10_000;

export class FreezableEngine {
  /** Freeze at the next token event (one-shot). */
  freezeAtNextToken = false;
  /** Freeze at the next event this accepts (one-shot), e.g. an eval run's first progress. */
  freezeWhen: ((e: EngineEvent) => boolean) | undefined;
  frozenPid: number | undefined;

  constructor(private readonly inner: EngineHostLike) {
    void inner.start().catch(() => undefined);
  }

  get state() {
    return this.inner.state;
  }
  get pid() {
    return this.inner.pid;
  }
  get packDir() {
    return this.inner.packDir;
  }
  onState(cb: (s: never) => void) {
    return this.inner.onState(cb);
  }
  restart(opts?: { provider?: 'auto' | 'cpu' | 'cuda' | 'dml' | 'coreml' | 'webgpu' }) {
    this.thaw();
    return this.inner.restart(opts);
  }
  killProcess() {
    this.thaw();
    this.inner.killProcess();
  }
  async dispose() {
    this.thaw();
    await this.inner.dispose();
  }

  private thaw(): void {
    const pid = this.frozenPid;
    this.frozenPid = undefined;
    if (pid === undefined) return;
    try {
      process.kill(pid, 'SIGCONT');
    } catch {
      /* already gone */
    }
  }

  call(method: string, params: unknown, opts: { signal?: AbortSignal; onEvent?: (e: EngineEvent) => void } = {}): Promise<unknown> {
    // Thaw a little after the cancel was sent, so the engine finds it waiting when it wakes up.
    opts.signal?.addEventListener('abort', () => setTimeout(() => this.thaw(), 50), { once: true });
    return this.inner.call(method, params, {
      ...opts,
      onEvent: (e) => {
        const hit = (e.type === 'token' && this.freezeAtNextToken) || (this.freezeWhen?.(e) ?? false);
        if (hit && this.inner.pid !== undefined) {
          this.freezeAtNextToken = false;
          this.freezeWhen = undefined;
          this.frozenPid = this.inner.pid;
          process.kill(this.frozenPid, 'SIGSTOP');
          setTimeout(() => this.thaw(), MAX_FREEZE_MS).unref();
        }
        opts.onEvent?.(e);
      },
    });
  }
}
