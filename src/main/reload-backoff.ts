/**
 * When to reload a renderer that crashed. Reloading at once, every time,
 * turns a page that crashes on load into a crash loop that pins a core and
 * never shows the user anything. Crashes in the last minute are counted: the
 * first reload is immediate, each next one waits twice as long, and after
 * `maxCrashes` within the window it gives up (the caller shows an error).
 */
export class ReloadBackoff {
  private crashes: number[] = [];

  constructor(
    private readonly maxCrashes = 5,
    private readonly windowMs = 60_000,
    private readonly baseDelayMs = 1_000,
  ) {}

  /** Record a crash at `now`; the delay before reloading, or undefined to stop reloading. */
  next(now: number): number | undefined {
    this.crashes = this.crashes.filter((t) => now - t < this.windowMs).concat(now);
    const n = this.crashes.length;
    if (n > this.maxCrashes) return undefined;
    return n === 1 ? 0 : this.baseDelayMs * 2 ** (n - 2);
  }

  /** Crashes counted in the current window (for the error message). */
  get count(): number {
    return this.crashes.length;
  }
}
