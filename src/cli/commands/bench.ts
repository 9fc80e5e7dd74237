/**
 * `twinlens bench`: median stage timings of the engine on a pack, and — when
 * Python with torch and the pack's reference script are present — the same
 * stages of the reference PyTorch models in the same run, as ratios.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { type Command, Option } from 'commander';
import { SingleBar, Presets } from 'cli-progress';
import { type BenchReport, runBench } from '../../engine/bench.js';
import { probeFeaturesRss } from '../../engine/bench-rss.js';
import { SCALES, runScaleCommand } from './bench-scale.js';
import type { ProviderChoice } from '../../engine/onnx/providers.js';
import { fail, parseIntStrict, printJson } from '../output.js';
import { defaultPackDir, REPO_ROOT } from '../pack-path.js';
import { projectPython, pythonProblem } from '../python.js';

interface BenchOptions {
  pack?: string;
  image?: string;
  question: string;
  iterations: number;
  warmup: number;
  maxTokens: number;
  provider: string;
  reference: boolean;
  json?: boolean;
  scale?: string;
  imageSize?: number;
  threads?: number;
  tap?: string;
  benchDir?: string;
  markdown?: string;
  chart?: string;
  rss: boolean;
  rssProbe?: string;
}

interface ReferenceReport {
  stages: Record<string, number>;
  note?: string;
}

/**
 * Runs the PyTorch reference timings (`python -m twinlens_train.bench.reference`, training/ on PYTHONPATH)
 * if Python, torch and the module exist; otherwise says why not.
 */
function referenceRun(packDir: string, image: string, question: string, iterations: number): { report?: ReferenceReport; skipped?: string } {
  const training = path.join(REPO_ROOT, 'training');
  if (!fs.existsSync(path.join(training, 'twinlens_train', 'bench', 'reference.py')))
    return { skipped: 'training/twinlens_train/bench/reference.py not found' };
  const py = projectPython();
  const problem = pythonProblem(py, ['torch']);
  if (problem) return { skipped: problem };
  const env = { ...process.env, PYTHONPATH: [training, process.env.PYTHONPATH].filter(Boolean).join(path.delimiter) };
  const r = spawnSync(
    py,
    ['-m', 'twinlens_train.bench.reference', '--pack', packDir, '--image', image, '--question', question, '--iterations', String(iterations)],
    { encoding: 'utf8', maxBuffer: 1 << 24, env },
  );
  if (r.status !== 0) return { skipped: `reference run failed: ${(r.stderr || r.stdout).trim().split('\n').pop()}` };
  try {
    return { report: JSON.parse(r.stdout) as ReferenceReport };
  } catch {
    return { skipped: 'reference run printed no JSON' };
  }
}

export function registerBench(program: Command): void {
  program
    .command('bench')
    .description('Median time per stage (VAE, text encoder, UNet, CLIP, projectors, prefill, decode), tokens/s and peak memory')
    .option('--pack <dir>', 'model pack folder (default: built-in mini-world)')
    .option('--image <file>', 'image (default: the pack sample or the test fixture)')
    .option('--question <text>', 'question', 'what colour is the circle')
    .option('--iterations <n>', 'measured runs', parseIntStrict('--iterations'), 5)
    .option('--warmup <n>', 'warm-up runs', parseIntStrict('--warmup'), 1)
    .option('--max-tokens <n>', 'answer length', parseIntStrict('--max-tokens'), 16)
    .option('--provider <name>', 'execution provider', 'cpu')
    .option('--no-reference', 'skip the PyTorch reference run')
    .option('--json', 'print JSON')
    .option('--scale <name>', `real-size models instead of a pack (${SCALES.join(', ')}): engine vs bare ONNX Runtime vs PyTorch per stage`)
    .option('--image-size <px>', 'with --scale: VAE input size (256, 512, 768)', parseIntStrict('--image-size'))
    .option('--threads <n>', 'with --scale: threads of the bare sessions and of PyTorch (default: cores)', parseIntStrict('--threads'))
    .option('--tap <alias>', 'with --scale: the tap whose pruned UNet is timed', 'U-L1-R1-B0-Cross-Q')
    .option('--bench-dir <dir>', 'with --scale: where the generated models are cached (default .cache/bench/NAME)')
    .option('--markdown <file>', 'with --scale: also write the table to this file')
    .option('--chart <file.svg>', 'with --scale: also draw the stages as an SVG bar chart')
    .option('--no-rss', 'with --scale: skip the fresh-process peak-memory check against packs estimate')
    // Internal: the child process of that check (bench-rss.ts).
    .addOption(new Option('--rss-probe <pack>').hideHelp())
    .action(async (o: BenchOptions) => {
      try {
        if (o.rssProbe) {
          const image = path.resolve(o.image ?? path.join(REPO_ROOT, 'test', 'fixtures', 'images', 'sample.png'));
          return printJson(await probeFeaturesRss(path.resolve(o.rssProbe), image, o.provider as ProviderChoice));
        }
        if (o.scale) return await runScaleCommand({ ...o, scale: o.scale });
        const packDir = defaultPackDir(o.pack);
        const image = path.resolve(o.image ?? path.join(REPO_ROOT, 'test', 'fixtures', 'images', 'sample.png'));
        const bar =
          o.json || !process.stderr.isTTY
            ? undefined
            : new SingleBar({ format: 'bench [{bar}] {value}/{total} runs  ETA {eta}s', stream: process.stderr }, Presets.shades_classic);
        bar?.start(o.warmup + o.iterations, 0);
        const report: BenchReport = await runBench({
          packDir,
          image,
          question: o.question,
          iterations: o.iterations,
          warmup: o.warmup,
          maxTokens: o.maxTokens,
          provider: o.provider as ProviderChoice,
          onProgress: (done) => bar?.update(done),
        });
        bar?.stop();
        const ref = o.reference ? referenceRun(packDir, image, o.question, o.iterations) : { skipped: '--no-reference' };
        const ratios: Record<string, number> = {};
        if (ref.report) for (const s of report.stages) if (ref.report.stages[s.stage]) ratios[s.stage] = ref.report.stages[s.stage] / s.medianMs;
        if (o.json) {
          printJson({ ...report, reference: ref.report ?? null, referenceSkipped: ref.skipped ?? null, speedupVsReference: ratios });
          return;
        }
        process.stdout.write(
          `Pack ${report.pack}, ${report.iterations} runs after warm-up, providers: ${Object.entries(report.providers)
            .map(([k, v]) => `${k}=${v}`)
            .join(', ')}\n`,
        );
        process.stdout.write(`${'stage'.padEnd(18)}${'median ms'.padStart(11)}${ref.report ? 'torch ms'.padStart(11) + 'speed-up'.padStart(10) : ''}\n`);
        for (const s of report.stages) {
          const r = ref.report?.stages[s.stage];
          process.stdout.write(
            `${s.stage.padEnd(18)}${s.medianMs.toFixed(2).padStart(11)}${r ? r.toFixed(2).padStart(11) + `${(r / s.medianMs).toFixed(2)}×`.padStart(10) : ''}\n`,
          );
        }
        process.stdout.write(
          `whole ask (all modes): median ${report.totalMedianMs.toFixed(1)} ms; decode ${report.tokensPerSecond.toFixed(1)} tokens/s; peak RSS ${(report.peakRssBytes / 2 ** 20).toFixed(0)} MiB\n`,
        );
        if (ref.skipped) process.stdout.write(`reference: skipped (${ref.skipped})\n`);
      } catch (e) {
        fail(e);
      }
    });
}
