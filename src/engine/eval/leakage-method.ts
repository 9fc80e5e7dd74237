/**
 * The contract's `leakage`: the Eval view's leakage probe, inside the engine
 * process. runLeakage (leakage-run.ts) takes an injected `ask`; here it gets
 * the engine's own ask, as evaluate.ts does for runEval, and the report is
 * leakageReport's — the same document `twinlens leakage --json` prints.
 * Progress goes out as 'progress' and 'eval-progress' events (running: {});
 * a cancel stops after the current ask and returns the report over the
 * items finished (complete: false).
 */
import { type LeakageParamsParsed, type LeakageReport, type PackInfo } from '../../shared/contract.js';
import type { RequestContext } from '../engine.js';
import { type EvalEngine, engineAsk } from './evaluate.js';
import { runnableModes } from '../../shared/modes.js';
import { packHash } from '../pack/pack-hash.js';
import { loadSuite } from './index.js';
import { leakageReport } from './leakage-report.js';
import { runLeakage } from './leakage-run.js';

/** Listed modes must exist and be available; default: every available mode reading diffusion features, extras included. */
export function leakageModes(info: PackInfo, modes: string[] | undefined): string[] {
  return runnableModes(info, modes, (m) => m.inputs.includes('diffusion'));
}

export async function leakage(engine: EvalEngine, params: LeakageParamsParsed, ctx: RequestContext = {}): Promise<LeakageReport> {
  const info = engine.packInfo();
  const suite = loadSuite(params.suite, { packDir: info.dir, imagesDir: params.imagesDir });
  const modes = leakageModes(info, params.modes);
  const guidance = [...new Set(params.guidance)];
  const run = await runLeakage(engineAsk(engine, ctx), suite, {
    modes,
    guidance,
    task: params.task,
    diffusion: params.diffusion,
    generation: params.generation,
    limit: params.limit,
    signal: ctx.signal,
    onProgress: (p) => {
      ctx.emit?.({ type: 'progress', stage: 'leakage', done: p.done, total: p.total, message: p.item });
      ctx.emit?.({ type: 'eval-progress', done: p.done, total: p.total, elapsedMs: p.elapsedMs, etaMs: p.etaMs, item: p.item, running: {} });
    },
  });
  const report: LeakageReport = leakageReport({
    run,
    suite: { name: suite.name, hash: suite.hash, items: suite.items.length },
    pack: { name: info.name, hash: packHash(info.dir) },
    modes,
    guidance,
    task: params.task,
  });
  return report;
}
