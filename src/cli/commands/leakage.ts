/**
 * `twinlens leakage`: the prompt-leakage probe (DESIGN.md §1.5). For each
 * mode that reads diffusion features, answers every item with the matched
 * prompt (its question), an empty prompt and a mismatched prompt from another
 * item, at each guidance s, and reports how much of the mismatched prompt the
 * answers read back (CIDEr-D, token F1) against an empty-prompt control, and
 * the matched − empty gap. The loop runs here over EngineClient.call('ask').
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Command } from 'commander';
import { TwinLensError } from '../../shared/errors.js';
import type { LeakageTask, MismatchSource } from '../../shared/contract.js';
import { DEFAULT_CAPTION_QUESTION, formatLeakage, leakageReport, loadSuite, runLeakage } from '../../engine/eval/index.js';
import { fail, parseIntStrict, printJson } from '../output.js';
import { defaultPackDir } from '../pack-path.js';
import { EvalProgressBar, interruptible, pickModes, startEngine } from './eval.js';
import { packHash } from '../../engine/pack/pack-hash.js';
import { type SharedCliOptions, diffusionFrom, diffusionOptions, maxTokensOption, runOptions } from '../options.js';

interface LeakageCliOptions extends Omit<SharedCliOptions, 'guidance'> {
  /** A comma list of guidance scales. */
  guidance: string;
  pack?: string;
  suite: string;
  images?: string;
  modes?: string;
  task: string;
  captionQuestion: string;
  mismatchFrom: string;
  limit?: number;
  out?: string;
  summaryOnly?: boolean;
  progress: boolean;
}

function parseGuidanceList(v: string): number[] {
  const xs = v.split(',').map((s) => Number(s.trim()));
  if (!xs.length || xs.some((x) => !Number.isFinite(x) || x < -20 || x > 50))
    throw new TwinLensError('INVALID_ARGUMENT', `--guidance must be numbers like 1,1.5,4, got "${v}"`);
  return [...new Set(xs)];
}

export function registerLeakage(program: Command): void {
  const cmd = program
    .command('leakage')
    .description('Prompt-leakage probe: matched / empty / mismatched SD prompts per guidance s, scored against the reference and the mismatched prompt')
    .requiredOption('--suite <name|file>', 'suite: a .jsonl file, an MMVP Questions.csv (or its folder), or a built-in name from <pack>/suites/')
    .option('--pack <dir>', 'model pack folder (default: built-in mini-world)')
    .option('--images <dir>', 'MMVP: image folder')
    .option('--modes <ids>', 'comma-separated mode ids (default: every available mode that reads diffusion features, extras included)')
    .option('--guidance <list>', 'guidance scales s to probe', '1,1.5,4')
    .option(
      '--task <task>',
      "qa: ask the item's question, prompts = questions; caption: ask for a caption, prompts = the items' captions (the study's test)",
      'qa',
    )
    .option('--caption-question <text>', 'caption task: the question asked', DEFAULT_CAPTION_QUESTION)
    .option('--mismatch-from <field>', "qa task: prompts = the items' question (default) or answer (suites whose answers are captions)", 'question');
  diffusionOptions(cmd, ['t', 'tap', 'seed', 'ensemble']);
  maxTokensOption(cmd)
    .option('--limit <n>', 'only the first n items', parseIntStrict('--limit'))
    .option('--out <file>', 'write the report (JSON) there')
    .option('--summary-only', 'leave per-item outputs out of the report');
  runOptions(cmd)
    .option('--json', 'print the report as JSON (shape: src/engine/eval/leakage-report.ts)')
    .action(async (o: LeakageCliOptions) => {
      let client: Awaited<ReturnType<typeof startEngine>>['client'] | undefined;
      const bar = new EvalProgressBar('leakage', o.progress);
      try {
        if (o.mismatchFrom !== 'question' && o.mismatchFrom !== 'answer')
          throw new TwinLensError('INVALID_ARGUMENT', `--mismatch-from must be question or answer, got "${o.mismatchFrom}"`);
        if (o.task !== 'qa' && o.task !== 'caption') throw new TwinLensError('INVALID_ARGUMENT', `--task must be qa or caption, got "${o.task}"`);
        const task = o.task as LeakageTask;
        const guidance = parseGuidanceList(o.guidance);
        const packDir = defaultPackDir(o.pack);
        const suite = loadSuite(o.suite, { packDir, imagesDir: o.images });
        const started = await startEngine(packDir, o.provider);
        client = started.client;
        const modes = pickModes(started.info, o.modes, (m) => m.inputs.includes('diffusion'));
        const ac = interruptible();
        process.stderr.write(
          `leakage: ${suite.name} (${Math.min(o.limit ?? Infinity, suite.items.length)} items, ${task} task) on ${started.info.name}, modes ${modes.join(', ')}, s = ${guidance.join(', ')}\n`,
        );
        const diffusion = diffusionFrom({ t: o.t, tap: o.tap, seed: o.seed, ensemble: o.ensemble });
        const run = await runLeakage(started.ask, suite, {
          modes,
          guidance,
          task,
          mismatchFrom: o.mismatchFrom as MismatchSource,
          captionQuestion: o.captionQuestion,
          diffusion,
          generation: o.maxTokens !== undefined ? { maxTokens: o.maxTokens } : {},
          limit: o.limit,
          signal: ac.signal,
          onProgress: (p) => bar.update(p.done, p.total, p.etaMs, p.item ?? ''),
        });
        bar.stop();
        if (!run.complete) process.stderr.write(`stopped: the report covers the ${run.items.length} items finished\n`);
        const report = leakageReport({
          run,
          suite: { name: suite.name, hash: suite.hash, items: suite.items.length },
          pack: { name: started.info.name, hash: packHash(packDir) },
          modes,
          guidance,
          task,
          mismatchFrom: o.mismatchFrom as MismatchSource,
          captionQuestion: o.captionQuestion,
          withoutItems: o.summaryOnly,
        });
        if (o.out) {
          fs.mkdirSync(path.dirname(path.resolve(o.out)), { recursive: true });
          fs.writeFileSync(o.out, `${JSON.stringify(report, null, 2)}\n`);
          process.stderr.write(`report written to ${o.out}\n`);
        }
        if (o.json) printJson(report);
        else process.stdout.write(`${formatLeakage(report)}\n`);
        await client.dispose();
        if (!run.complete) process.exit(130);
      } catch (e) {
        bar.stop();
        await client?.dispose();
        fail(e);
      }
    });
}
