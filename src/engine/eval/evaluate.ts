/**
 * The contract's `evaluate`: the Eval view's benchmark run, inside the engine
 * process. The runner (runner.ts) is host-agnostic — it takes an injected
 * `ask` — so here it gets the engine's own ask instead of
 * EngineClient.call('ask'); everything else (suite readers, matching,
 * scores, sweeps, the summary document) is exactly what `twinlens eval`
 * uses, so the view and the CLI report the same numbers. Progress goes out
 * as 'progress' and 'eval-progress' events; a cancel stops after the
 * current item and returns the partial summary (complete: false).
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import sharp from 'sharp';
import {
  AskParams,
  type AskParamsParsed,
  type AskResult,
  type EvaluateParamsParsed,
  type EvalItemResult,
  type EvaluateResult,
  type EvalSummary,
  type PackInfo,
  type SuiteList,
} from '../../shared/contract.js';
import type { RequestContext } from '../engine.js';
import { loadSuite } from './index.js';
import type { RunHeader } from './records.js';
import { type AskFn, runEval, runHeader } from './runner.js';
import { userCacheDir } from '../util/cache-dir.js';
import { builtInSuites, resolveSuitePath } from './suite.js';
import { summarize } from './summary.js';
import { parseSweep } from './sweep.js';
import { runnableModes } from '../../shared/modes.js';
import { packHash } from '../pack/pack-hash.js';

/** What evaluate needs from the engine. */
export interface EvalEngine {
  ask(params: AskParamsParsed, ctx?: RequestContext): Promise<AskResult>;
  packInfo(): PackInfo;
}

const THUMB_PX = 96;

/**
 * The runners' `ask` over the engine: each item first lets the questions asked meanwhile go
 * (ctx.yieldToInteractive, process/lanes.ts), then asks. Shared by evaluate and leakage.
 */
export function engineAsk(engine: EvalEngine, ctx: RequestContext): AskFn {
  return async (p, o) => {
    await ctx.yieldToInteractive?.();
    return engine.ask(AskParams.parse(p), { signal: o.signal, emit: o.onEvent });
  };
}

/** The modes an evaluation runs ('all' = every available non-extra mode): shared/modes.ts. */
export function evalModes(info: PackInfo, modes: EvaluateParamsParsed['modes']): string[] {
  return runnableModes(info, modes);
}

/**
 * The journal of an evaluation in the user's cache ($TWINLENS_EVAL_RUNS, else <cache>/twinlens/eval-runs):
 * named by a hash of what the run evaluates (its results-file header without the creation time), so
 * the same evaluation asked to resume — after Stop, a crash, or a restart of the app — finds it, as
 * `twinlens eval --out` does with a file the user names.
 */
export function journalPath(header: RunHeader): string {
  const { created: _created, ...identity } = header;
  const key = createHash('sha256').update(JSON.stringify(identity)).digest('hex').slice(0, 24);
  return path.join(process.env.TWINLENS_EVAL_RUNS ?? userCacheDir('eval-runs'), `${header.suite.name}-${key}.jsonl`);
}

/** Items whose modes do not all agree (some right, some wrong, or different answers). */
export function disagreements(items: readonly EvalItemResult[]): EvalItemResult[] {
  return items.filter((it) => {
    const a = Object.values(it.answers);
    if (a.length < 2) return false;
    const right = new Set(a.map((x) => x.correct));
    const texts = new Set(a.map((x) => x.text.trim().toLowerCase()));
    return right.size > 1 || texts.size > 1;
  });
}

export function listSuites(info: PackInfo): SuiteList {
  const dir = path.join(info.dir, 'suites');
  return { dir: fs.existsSync(dir) ? dir : undefined, builtIn: builtInSuites(info.dir).map((name) => ({ name, path: resolveSuitePath(name, info.dir) })) };
}

export async function evaluate(engine: EvalEngine, params: EvaluateParamsParsed, ctx: RequestContext = {}): Promise<EvaluateResult> {
  const started = performance.now();
  const info = engine.packInfo();
  const suite = loadSuite(params.suite, { packDir: info.dir, imagesDir: params.imagesDir });
  const modes = evalModes(info, params.modes);
  const sweep = params.sweep ? parseSweep(params.sweep) : undefined;
  const identity = {
    modes,
    diffusion: params.diffusion,
    generation: params.generation,
    sweep,
    limit: params.limit,
    pack: { name: info.name, hash: packHash(info.dir) },
  };
  const run = await runEval(engineAsk(engine, ctx), suite, {
    modes,
    modeInputs: Object.fromEntries(info.modes.map((m) => [m.id, [...m.inputs]])),
    diffusion: params.diffusion,
    generation: params.generation,
    sweep,
    limit: params.limit,
    pack: identity.pack,
    resultsFile: journalPath(runHeader(suite, identity)),
    fresh: !params.resume,
    signal: ctx.signal,
    onProgress: (p) => {
      const acc = Object.entries(p.running)
        .map(([m, r]) => `${m} ${r.n ? Math.round((100 * r.correct) / r.n) : 0}%`)
        .join(' · ');
      ctx.emit?.({
        type: 'progress',
        stage: 'evaluate',
        done: p.done,
        total: p.total,
        message: [p.item, p.setting !== 'default' ? p.setting : undefined, acc].filter(Boolean).join(' · '),
      });
      ctx.emit?.({
        type: 'eval-progress',
        done: p.done,
        total: p.total,
        elapsedMs: p.elapsedMs,
        etaMs: p.etaMs,
        item: p.item,
        setting: p.setting,
        running: structuredClone(p.running),
      });
    },
  });
  const doc = summarize(run.header, run.records);
  const summary: EvalSummary = doc;
  const thumbnails: Record<string, Uint8Array> = {};
  const abs = new Map(suite.items.map((it) => [it.id, it.image]));
  for (const it of disagreements(doc.items ?? [])) {
    if (Object.keys(thumbnails).length >= params.thumbnails) break;
    if (thumbnails[it.image]) continue;
    const file = abs.get(it.id);
    if (!file) continue;
    try {
      thumbnails[it.image] = new Uint8Array(await sharp(file).resize(THUMB_PX, THUMB_PX, { fit: 'cover' }).png().toBuffer());
    } catch {
      // A missing or unreadable image already shows as an engine error in the item's answers.
    }
  }
  return { summary, complete: run.complete, resumed: run.resumed, thumbnails, warnings: suite.warnings, ms: performance.now() - started };
}
