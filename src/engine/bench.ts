/**
 * The benchmark: after a warm-up, run the whole ask pipeline N times with
 * caches cleared and report the median of every stage, tokens per second and
 * the process's peak memory. It runs the engine in the calling process so the
 * numbers exclude IPC; compare runs by ratios, not absolute times.
 */
import type { ProviderChoice } from './onnx/providers.js';
import { Engine } from './engine.js';
import { median, StageTimer } from './util/timer.js';

export interface BenchOptions {
  packDir: string;
  image: string;
  question: string;
  iterations: number;
  warmup: number;
  maxTokens: number;
  provider?: ProviderChoice;
  onProgress?: (done: number, total: number) => void;
}

export interface BenchStage {
  stage: string;
  medianMs: number;
  samples: number;
}

export interface BenchReport {
  pack: string;
  iterations: number;
  stages: BenchStage[];
  totalMedianMs: number;
  tokensPerSecond: number;
  peakRssBytes: number;
  providers: Record<string, string>;
  modes: string[];
}

const ORDER = ['preprocess', 'vae', 'text_encoder', 'unet_batch2', 'unet_cond_only', 'clip_preprocess', 'clip', 'projectors', 'prefill', 'decode_per_token'];

export async function runBench(o: BenchOptions): Promise<BenchReport> {
  const engine = await Engine.open(o.packDir, { provider: o.provider ?? 'cpu' });
  try {
    const modes = engine
      .packInfo()
      .modes.filter((m) => m.available && !m.extra)
      .map((m) => m.id);
    const totals: number[] = [];
    const timer = new StageTimer();
    const total = o.warmup + o.iterations;
    for (let i = 0; i < total; i++) {
      engine.clearCaches();
      const measuring = i >= o.warmup;
      const t = new StageTimer();
      const t0 = performance.now();
      await engine.ask(
        { image: { path: o.image }, question: o.question, modes: modes.length ? modes : 'all', diffusion: {}, generation: { maxTokens: o.maxTokens } },
        { timer: t },
      );
      if (measuring) {
        totals.push(performance.now() - t0);
        for (const [k, v] of t.samples) for (const x of v) timer.record(k, x);
      }
      o.onProgress?.(i + 1, total);
    }
    const stages = [...timer.samples.entries()]
      .map(([stage, xs]) => ({ stage, medianMs: median(xs), samples: xs.length }))
      .sort((a, b) => ((ORDER.indexOf(a.stage) + 100) % 100) - ((ORDER.indexOf(b.stage) + 100) % 100));
    const perToken = median(timer.samples.get('decode_per_token') ?? []);
    return {
      pack: engine.pack.name,
      iterations: o.iterations,
      stages,
      totalMedianMs: median(totals),
      tokensPerSecond: Number.isFinite(perToken) && perToken > 0 ? 1000 / perToken : 0,
      peakRssBytes: process.resourceUsage().maxRSS * 1024,
      providers: engine.providers(),
      modes,
    };
  } finally {
    engine.dispose();
  }
}
