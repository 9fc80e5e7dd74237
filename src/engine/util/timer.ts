/**
 * StageTimer: named wall-clock samples collected during a request, so the
 * benchmark can report a median per stage (VAE, text encoder, UNet, CLIP,
 * projectors, prefill, decode) without a second code path through the engine.
 */
export class StageTimer {
  readonly samples = new Map<string, number[]>();

  record(stage: string, ms: number): void {
    const list = this.samples.get(stage) ?? [];
    list.push(ms);
    this.samples.set(stage, list);
  }

  async time<T>(stage: string, fn: () => Promise<T>): Promise<T> {
    const t0 = performance.now();
    try {
      return await fn();
    } finally {
      this.record(stage, performance.now() - t0);
    }
  }

  clear(): void {
    this.samples.clear();
  }
}

export function median(xs: readonly number[]): number {
  if (!xs.length) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** Optional timing: runs fn plainly when no timer is given. */
export function timed<T>(timer: StageTimer | undefined, stage: string, fn: () => Promise<T>): Promise<T> {
  return timer ? timer.time(stage, fn) : fn();
}
