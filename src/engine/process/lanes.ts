/**
 * Two lanes for the engine process's one-at-a-time queue: interactive
 * requests (ask, features, visualize, …) and background runs (evaluate,
 * leakage). Requests still run one at a time — ONNX Runtime keeps the cores
 * busy, parallel runs would only interleave — but a background run calls
 * `yieldToInteractive()` between its items, and every interactive request
 * waiting at that moment runs then, before the next item. So a question asked
 * during a 300-item evaluation waits for one item, not for the evaluation.
 */
export type Lane = 'interactive' | 'background';

type Job = () => Promise<void>;

export class Lanes {
  private interactive: Job[] = [];
  private background: Job[] = [];
  private running = false;

  /** Queues a job; jobs catch their own errors (the caller sends them back as protocol errors). */
  submit(lane: Lane, job: Job): void {
    (lane === 'interactive' ? this.interactive : this.background).push(job);
    void this.pump();
  }

  /** For a running background job, between its steps: runs the interactive jobs queued by now. */
  async yieldToInteractive(): Promise<void> {
    while (this.interactive.length) await this.interactive.shift()!();
  }

  /** Resolves when both lanes are empty and nothing runs (dispose). */
  async idle(): Promise<void> {
    while (this.running || this.interactive.length || this.background.length) await new Promise((r) => setTimeout(r, 10));
  }

  private async pump(): Promise<void> {
    if (this.running) return;
    this.running = true;
    try {
      for (;;) {
        const job = this.interactive.shift() ?? this.background.shift();
        if (!job) break;
        await job();
      }
    } finally {
      this.running = false;
    }
  }
}

/**
 * Which lane a contract method runs in. openPack goes to the background lane too, for another reason:
 * it replaces the engine, so it must never run inside an evaluation's yield (the evaluation holds the
 * engine it started with); behind it in the queue, it waits until the evaluation ends, as before lanes.
 */
export function laneOf(method: string): Lane {
  return method === 'evaluate' || method === 'leakage' || method === 'openPack' ? 'background' : 'interactive';
}
