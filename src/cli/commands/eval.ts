/**
 * `twinlens eval`: run a benchmark suite over the answer modes of a pack and
 * report accuracy (95 % CI), pair and per-category accuracy — once, or as a
 * sweep (`--sweep t=10,50,250`). The loop (src/engine/eval) runs here in the
 * CLI process over EngineClient.call('ask'); results stream into a JSONL file
 * that a rerun of the same command resumes, and shards (`--shard i/n`) merge
 * with `--merge`. `--diff A B` compares two runs item by item. Also exports
 * the helpers `twinlens leakage` shares (engine start, modes, progress bar).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Presets, SingleBar } from 'cli-progress';
import type { Command } from 'commander';
import type { DiffusionSettings, EvalSummary, PackInfo } from '../../shared/contract.js';
import { TwinLensError } from '../../shared/errors.js';
import {
  type AskFn,
  diffRuns,
  formatDiff,
  formatEvalSummary,
  loadSuite,
  mergeResults,
  readResults,
  recordsOfSummary,
  runEval,
  parseSweep,
  summarize,
} from '../../engine/eval/index.js';
import type { ItemRecord } from '../../engine/eval/records.js';
import { EngineClient } from '../../host/engine-client.js';
import { fail, parseIntStrict, printJson } from '../output.js';
import { defaultPackDir } from '../pack-path.js';
import { packHash } from '../../engine/pack/pack-hash.js';
import { runnableModes } from '../../shared/modes.js';
import { type SharedCliOptions, diffusionFrom, diffusionOptions, maxTokensOption, runOptions } from '../options.js';

/** Progress on stderr: a cli-progress bar with our ETA on a terminal, a line per 10 % otherwise. */
export class EvalProgressBar {
  private bar?: SingleBar;
  private lastLine = -1;
  constructor(
    private label: string,
    private enabled = true,
  ) {}

  update(done: number, total: number, etaMs: number | undefined, detail: string): void {
    if (!this.enabled) return;
    const eta = etaMs === undefined ? '…' : formatMs(etaMs);
    if (process.stderr.isTTY) {
      if (!this.bar) {
        this.bar = new SingleBar(
          {
            format: `${this.label} {bar} {value}/{total} | ETA {etaText} | {detail}`,
            stream: process.stderr,
            hideCursor: true,
            clearOnComplete: false,
            etaBuffer: 50,
          },
          Presets.shades_classic,
        );
        this.bar.start(total, done, { etaText: eta, detail });
      } else this.bar.update(done, { etaText: eta, detail });
      return;
    }
    const tenth = total ? Math.floor((10 * done) / total) : 10;
    if (tenth !== this.lastLine) {
      this.lastLine = tenth;
      process.stderr.write(
        `${this.label}: ${done}/${total} (${total ? Math.round((100 * done) / total) : 100} %), ETA ${eta}${detail ? ` · ${detail}` : ''}\n`,
      );
    }
  }

  stop(): void {
    this.bar?.stop();
    this.bar = undefined;
  }
}

export function formatMs(ms: number): string {
  const s = Math.round(ms / 1000);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}

/**
 * The mode ids to run: "all" = every available non-extra mode; a list is
 * checked against the pack (unknown or unavailable ids fail with the reason).
 * `filter` narrows the default set (leakage: modes reading diffusion).
 */
export function pickModes(info: PackInfo, spec: string | undefined, defaults?: (m: PackInfo['modes'][number]) => boolean): string[] {
  const ids =
    !spec || spec === 'all'
      ? 'all'
      : spec
          .split(',')
          .map((s) => s.trim())
          .filter(Boolean);
  return runnableModes(info, ids, defaults);
}

/** Starts the engine on a pack and returns the client, its PackInfo and a bound `ask`. */
export async function startEngine(packDir: string, provider: string): Promise<{ client: EngineClient; info: PackInfo; ask: AskFn }> {
  const client = await EngineClient.start({ packDir, provider });
  try {
    const info = await client.call('packInfo', {});
    return { client, info, ask: (p, o) => client.call('ask', p, o) };
  } catch (e) {
    await client.dispose();
    throw e;
  }
}

/** An AbortController tied to Ctrl-C (a second Ctrl-C exits at once). */
export function interruptible(): AbortController {
  const ac = new AbortController();
  process.on('SIGINT', () => {
    if (ac.signal.aborted) process.exit(130);
    process.stderr.write('\nstopping after the current item (Ctrl-C again to quit now)…\n');
    ac.abort();
  });
  return ac;
}

export function parseShard(v: string): { index: number; count: number } {
  const m = /^(\d+)\/(\d+)$/.exec(v.trim());
  const index = m ? Number(m[1]) : NaN;
  const count = m ? Number(m[2]) : NaN;
  if (!m || count < 1 || index < 1 || index > count) throw new Error(`--shard must be i/n with 1 ≤ i ≤ n (e.g. 1/4), got "${v}"`);
  return { index, count };
}

interface EvalCliOptions extends SharedCliOptions {
  pack?: string;
  suite?: string;
  images?: string;
  modes?: string;
  sweep?: string;
  prompt?: string;
  shard?: { index: number; count: number };
  limit?: number;
  out?: string;
  results?: string;
  fresh?: boolean;
  summaryOnly?: boolean;
  by?: string;
  merge?: string[];
  diff?: string[];
  progress: boolean;
}

function byFields(o: EvalCliOptions): string[] | undefined {
  const fields = o.by
    ?.split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  return fields?.length ? fields : undefined;
}

function writeSummary(file: string, s: EvalSummary): void {
  fs.mkdirSync(path.dirname(path.resolve(file)), { recursive: true });
  fs.writeFileSync(file, `${JSON.stringify(s, null, 2)}\n`);
}

function output(s: EvalSummary, o: EvalCliOptions): void {
  if (o.out && !o.out.endsWith('.jsonl')) {
    writeSummary(o.out, s);
    process.stderr.write(`summary written to ${o.out}\n`);
  }
  if (o.json) printJson(s);
  else process.stdout.write(`${formatEvalSummary(s)}\n`);
}

/** A run's records from a results .jsonl or a summary .json (with items). */
function loadRun(file: string): { records: ItemRecord[]; suiteHash: string } {
  const text = fs.readFileSync(file, 'utf8');
  const first = text.slice(0, text.indexOf('\n') >= 0 ? text.indexOf('\n') : text.length);
  if (/"twinlens-eval-results"/.test(first)) {
    const r = readResults(file);
    return { records: r.records, suiteHash: r.header.suite.hash };
  }
  let s: EvalSummary;
  try {
    s = JSON.parse(text) as EvalSummary;
  } catch {
    throw new TwinLensError('INVALID_ARGUMENT', `${file} is neither a results .jsonl nor an eval summary .json`);
  }
  const r = recordsOfSummary(s, file);
  return { records: r.records, suiteHash: r.header.suite.hash };
}

async function runMerge(o: EvalCliOptions): Promise<void> {
  const merged = mergeResults(o.merge!);
  if (o.out?.endsWith('.jsonl')) {
    fs.writeFileSync(o.out, [merged.header, ...merged.records].map((x) => JSON.stringify(x)).join('\n') + '\n');
    process.stderr.write(`merged results written to ${o.out}\n`);
  }
  const s = summarize(merged.header, merged.records, { shards: merged.shardsSeen, withoutItems: o.summaryOnly, by: byFields(o) });
  if (!s.complete) process.stderr.write(`warning: ${s.missing} item×setting runs are missing (shards found: ${merged.shardsSeen.join(', ')})\n`);
  output(s, o);
}

function runDiff(o: EvalCliOptions): void {
  if (o.diff!.length !== 2) throw new TwinLensError('INVALID_ARGUMENT', `--diff takes two files (results .jsonl or summary .json), got ${o.diff!.length}`);
  const [a, b] = o.diff!.map(loadRun);
  const d = diffRuns(a.records, b.records, { sameSuite: a.suiteHash === b.suiteHash });
  if (o.json) printJson(d);
  else process.stdout.write(`${formatDiff(d, [path.basename(o.diff![0]), path.basename(o.diff![1])])}\n`);
}

async function runSuite(o: EvalCliOptions): Promise<void> {
  if (!o.suite) throw new TwinLensError('INVALID_ARGUMENT', 'eval needs --suite NAME|FILE (or --merge / --diff)');
  const packDir = defaultPackDir(o.pack);
  const suite = loadSuite(o.suite, { packDir, imagesDir: o.images });
  for (const w of suite.warnings) process.stderr.write(`warning: ${w}\n`);
  if (o.prompt !== undefined && o.prompt !== 'question' && o.prompt !== 'empty')
    throw new TwinLensError('INVALID_ARGUMENT', `--prompt must be question or empty, got "${o.prompt}"`);
  const diffusion: DiffusionSettings = { ...diffusionFrom(o), ...(o.prompt ? { promptSource: o.prompt as 'question' | 'empty' } : {}) };
  for (const k of Object.keys(diffusion) as Array<keyof DiffusionSettings>) if (diffusion[k] === undefined) delete diffusion[k];
  const sweep = o.sweep ? parseSweep(o.sweep) : undefined;
  const resultsFile = o.results ?? (o.out ? (o.out.endsWith('.jsonl') ? o.out : o.out.replace(/(\.json)?$/, '.results.jsonl')) : undefined);
  const { client, info, ask } = await startEngine(packDir, o.provider);
  const ac = interruptible();
  const bar = new EvalProgressBar('eval', o.progress);
  try {
    const modes = pickModes(info, o.modes);
    const modeInputs = Object.fromEntries(info.modes.map((m) => [m.id, [...m.inputs]]));
    process.stderr.write(
      `eval: ${suite.name} (${suite.items.length} items) on ${info.name}, modes ${modes.join(', ')}${resultsFile ? `, results ${resultsFile}` : ' (no --out: not resumable)'}\n`,
    );
    const run = await runEval(ask, suite, {
      modes,
      modeInputs,
      diffusion,
      generation: o.maxTokens !== undefined ? { maxTokens: o.maxTokens } : {},
      sweep,
      limit: o.limit,
      shard: o.shard,
      pack: { name: info.name, hash: packHash(packDir) },
      resultsFile,
      fresh: o.fresh,
      signal: ac.signal,
      onProgress: (p) => {
        const acc = Object.entries(p.running)
          .map(([m, r]) => `${m} ${r.n ? Math.round((100 * r.correct) / r.n) : 0}%`)
          .join(' ');
        bar.update(p.done, p.total, p.etaMs, acc);
      },
    });
    bar.stop();
    if (run.resumed) process.stderr.write(`resumed ${run.resumed} finished item×setting runs from ${resultsFile}\n`);
    if (!run.complete) {
      await client.dispose();
      fail(
        new TwinLensError(
          'CANCELLED',
          `Stopped after ${run.records.length} of ${run.records.length + summarize(run.header, run.records).missing} item×setting runs`,
          resultsFile ? 'Run the same command again to resume' : 'Pass --out FILE to make runs resumable',
        ),
      );
    }
    output(summarize(run.header, run.records, { withoutItems: o.summaryOnly, by: byFields(o) }), o);
  } finally {
    bar.stop();
    await client.dispose();
  }
}

export function registerEval(program: Command): void {
  const cmd = program
    .command('eval')
    .description('Benchmark the answer modes on a suite: accuracy with 95 % CI, pair and per-category accuracy, sweeps; resumable, shardable')
    .option('--suite <name|file>', 'suite: a .jsonl file, an MMVP Questions.csv (or its folder), or a built-in name from <pack>/suites/')
    .option('--pack <dir>', 'model pack folder (default: built-in mini-world)')
    .option('--images <dir>', 'MMVP: image folder (default: "MMVP Images" beside the CSV)')
    .option('--modes <ids>', 'comma-separated mode ids, or all (every available non-extra mode)', 'all')
    .option(
      '--sweep <key=values>',
      'one setting over several values: t=10,50,100,250,500 | guidance=0,1,4 | tap=A,B | seed=… | ensemble=… | prompt=question,empty',
    );
  diffusionOptions(cmd, ['t', 'guidance', 'tap'], { t: 'diffusion timestep for every item' }).option(
    '--prompt <source>',
    'SD prompt: question (default) or empty',
  );
  diffusionOptions(cmd, ['seed', 'ensemble']);
  maxTokensOption(cmd, 'answer length limit (short answers: 8–16 is plenty)')
    .option('--limit <n>', 'only the first n items', parseIntStrict('--limit'))
    .option('--shard <i/n>', 'run shard i of n (items with index % n = i − 1); merge the shards with --merge', parseShard)
    .option('--out <file>', 'FILE.json: write the summary there (results go to FILE.results.jsonl); FILE.jsonl: the results file itself')
    .option('--results <file>', 'per-item results file (JSONL, resumable); default derived from --out')
    .option('--fresh', 'start the results file over instead of resuming it')
    .option('--summary-only', 'leave per-item answers out of the summary')
    .option('--by <fields>', 'also break accuracy down by these extra item fields of a JSONL suite (e.g. target)')
    .option('--merge <files...>', 'merge results files (shards) into one summary (with --out and/or --json)')
    .option('--diff <files...>', 'compare two runs item by item (results .jsonl or summary .json)');
  runOptions(cmd)
    .option('--json', 'print the summary as JSON (shape: src/engine/eval/summary.ts)')
    .action(async (o: EvalCliOptions) => {
      try {
        if (o.merge) await runMerge(o);
        else if (o.diff) runDiff(o);
        else await runSuite(o);
      } catch (e) {
        fail(e);
      }
    });
}
