/**
 * Download progress with speed and ETA.
 *
 * Why: model files are gigabytes; a user deciding whether to wait needs the
 * rate and the time left, and both must be steady (a raw per-chunk rate
 * jumps around). The rate is an exponential moving average over time, the ETA
 * is the bytes left divided by it. Resumed bytes count as done but not toward
 * the speed, so a resumed download does not report an impossible rate.
 */

export interface ProgressEvent {
  /** Repository path of the file being fetched. */
  file: string;
  /** Files finished so far / in the request. */
  fileIndex: number;
  fileCount: number;
  /** Bytes done of this file (resumed bytes included). */
  bytes: number;
  fileBytes: number;
  /** Bytes done / total over the whole request. */
  totalDone: number;
  total: number;
  /** Bytes per second (moving average), 0 until measured. */
  speed: number;
  /** Seconds left for the whole request at the current speed; undefined until measured. */
  etaSeconds?: number;
  phase: 'download' | 'verify' | 'done' | 'cached';
}

export class RateMeter {
  private rate = 0;
  private lastAt: number | undefined;
  private pending = 0;

  /** `halfLifeMs`: how quickly old rate samples fade. */
  constructor(
    private readonly halfLifeMs = 3000,
    private readonly now: () => number = () => performance.now(),
  ) {}

  /** Records `bytes` received now; returns the smoothed bytes/s. */
  add(bytes: number): number {
    const t = this.now();
    if (this.lastAt === undefined) {
      this.lastAt = t;
      this.pending = 0;
      return this.rate;
    }
    this.pending += bytes;
    const dt = t - this.lastAt;
    // Sample at most every 100 ms so tiny chunks do not dominate.
    if (dt < 100) return this.rate;
    const sample = (this.pending * 1000) / dt;
    const w = this.rate === 0 ? 1 : 1 - 0.5 ** (dt / this.halfLifeMs);
    this.rate += w * (sample - this.rate);
    this.lastAt = t;
    this.pending = 0;
    return this.rate;
  }

  get bytesPerSecond(): number {
    return this.rate;
  }

  /** Forget the timing (after a pause) but keep the rate as the first guess. */
  pause(): void {
    this.lastAt = undefined;
  }
}

export function etaSeconds(remaining: number, speed: number): number | undefined {
  if (speed <= 0 || !Number.isFinite(speed)) return undefined;
  return remaining / speed;
}

export function formatDuration(s: number | undefined): string {
  if (s === undefined || !Number.isFinite(s)) return '--:--';
  const t = Math.max(0, Math.round(s));
  const h = Math.floor(t / 3600);
  const m = Math.floor((t % 3600) / 60);
  const sec = t % 60;
  return h > 0 ? `${h}h${String(m).padStart(2, '0')}m` : `${m}:${String(sec).padStart(2, '0')}`;
}

export function formatRate(bytesPerSecond: number): string {
  if (bytesPerSecond <= 0) return '-- MB/s';
  if (bytesPerSecond >= 1e9) return `${(bytesPerSecond / 1e9).toFixed(2)} GB/s`;
  if (bytesPerSecond >= 1e6) return `${(bytesPerSecond / 1e6).toFixed(1)} MB/s`;
  return `${(bytesPerSecond / 1e3).toFixed(0)} kB/s`;
}

/** 3.44 GB, 340 kB, 12 B. */
export function formatSize(n: number): string {
  if (n >= 1e9) return `${(n / 1e9).toFixed(2)} GB`;
  if (n >= 1e6) return `${(n / 1e6).toFixed(1)} MB`;
  if (n >= 1e3) return `${(n / 1e3).toFixed(0)} kB`;
  return `${n} B`;
}

/** One progress line: "unet/weights.pb  45.2%  1.55/3.44 GB  38.1 MB/s  ETA 0:49  (2/5)". */
export function formatProgress(e: ProgressEvent): string {
  const pct = e.total ? ((100 * e.totalDone) / e.total).toFixed(1) : '100.0';
  const what =
    e.phase === 'verify' ? 'verifying' : e.phase === 'cached' ? 'cached' : e.phase === 'done' ? 'done' : `${formatSize(e.bytes)}/${formatSize(e.fileBytes)}`;
  return `${e.file}  ${pct}%  ${what}  ${formatRate(e.speed)}  ETA ${formatDuration(e.etaSeconds)}  (${e.fileIndex + 1}/${e.fileCount})`;
}
