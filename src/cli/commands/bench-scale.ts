/**
 * `twinlens bench --scale NAME`: generates (once, cached) the real-size bench
 * models with training's scale_models, runs the PyTorch reference on the same
 * weights and inputs, then the engine's stages beside a bare ONNX Runtime
 * session (src/engine/bench-scale.ts), and prints one table with ratios. The
 * models need Python (the venv of `npm run setup:py`); the app never does.
 */
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { type RssProbe } from '../../engine/bench-rss.js';
import { type ScaleBenchReport, type ScaleReference, runScaleBench } from '../../engine/bench-scale.js';
import { importPack } from '../../engine/importers/import-pack.js';
import type { ProviderChoice } from '../../engine/onnx/providers.js';
import { TwinLensError } from '../../shared/errors.js';
import { scaleChartSvg } from '../bench-chart.js';
import { printJson } from '../output.js';
import { REPO_ROOT } from '../pack-path.js';
import { projectPython, pythonProblem } from '../python.js';

export const SCALES = ['sd15', 'sd15-mini'] as const;

export interface ScaleCommandOptions {
  scale: string;
  imageSize?: number;
  iterations: number;
  warmup: number;
  provider: string;
  threads?: number;
  tap?: string;
  reference: boolean;
  benchDir?: string;
  markdown?: string;
  chart?: string;
  /** false: skip the fresh-process memory check (--no-rss). */
  rss?: boolean;
  json?: boolean;
}

/**
 * Runs `python -m module args…` (the project's Python unless `exe` is given) with training/ on PYTHONPATH;
 * its stderr (progress) goes to ours, stdout is returned.
 */
function python(module: string, args: string[], exe = projectPython()): Promise<string> {
  const training = path.join(REPO_ROOT, 'training');
  const env = { ...process.env, PYTHONPATH: [training, process.env.PYTHONPATH].filter(Boolean).join(path.delimiter) };
  return new Promise((resolve, reject) => {
    const child = spawn(exe, ['-m', module, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let tail = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString('utf8')));
    child.stderr.on('data', (d: Buffer) => {
      const text = d.toString('utf8');
      tail = (tail + text).slice(-2000);
      // Progress lines only; the libraries' tracer warnings are noise here.
      for (const line of text.split('\n')) if (/^(unet|vae|text|clip|llm)\b/.test(line)) process.stderr.write(`  ${line}\n`);
    });
    child.on('error', reject);
    child.on('close', (code) => {
      if (code === 0) resolve(out);
      else
        reject(
          new TwinLensError(
            'INTERNAL',
            `${module} exited with ${code}: ${tail.trim().split('\n').pop()}`,
            'See the message above; `npm run setup:py` rebuilds the venv',
          ),
        );
    });
  });
}

function lastJson<T>(stdout: string): T {
  const line = stdout.trim().split('\n').pop() ?? '';
  return JSON.parse(line) as T;
}

/** Debian's PyTorch timing the same UNet (training/twinlens_train/bench/torch_legacy.py). */
export interface LegacyTorch {
  torch: string;
  threads: number;
  python: string;
  median: number;
  layout: string;
  max_rel_diff: number;
}

/** The Python whose (older) torch is timed beside the reference: $TWINLENS_LEGACY_PYTHON ('none' skips), else Debian's. */
const legacyPython = () => process.env.TWINLENS_LEGACY_PYTHON ?? '/usr/bin/python3';

/** Why Debian's PyTorch cannot be timed here, or null. */
function legacyProblem(exe: string): string | null {
  if (exe === 'none') return 'TWINLENS_LEGACY_PYTHON=none';
  if (!fs.existsSync(exe)) return `${exe} not found`;
  const r = spawnSync(exe, ['-c', 'import torch'], { encoding: 'utf8' });
  if (r.status !== 0) return `${exe} has no torch (Debian: apt install python3-torch)`;
  return null;
}

/** Converts (once, with the project's Python) the UNet's weights and inputs, then times them in the legacy Python. */
async function legacyTorch(dir: string, image: number, o: ScaleCommandOptions, threads: number): Promise<LegacyTorch> {
  const exe = legacyPython();
  const common = ['--dir', dir, '--image', String(image)];
  await python('twinlens_train.bench.torch_legacy', ['--convert', ...common]);
  const r = lastJson<Omit<LegacyTorch, 'python'>>(
    await python(
      'twinlens_train.bench.torch_legacy',
      ['--time', ...common, '--iterations', String(o.iterations), '--warmup', String(o.warmup), '--threads', String(threads)],
      exe,
    ),
  );
  return { ...r, python: exe };
}

/** The line under the table that puts Debian's PyTorch beside the engine's UNet pass. */
export function legacyLine(r: ScaleBenchReport, legacy: LegacyTorch | undefined, note: string | undefined): string {
  if (!legacy) return note ? `\nDebian's PyTorch: not run (${note}).\n` : '';
  const unet = r.stages.find((s) => s.stage === 'unet_batch2');
  const ratio = unet?.engineMs ? legacy.median / unet.engineMs : undefined;
  return (
    `\nDebian's PyTorch ${legacy.torch} (${legacy.python}; no diffusers there, so the UNet runs as training's diffusers-compatible class ` +
    `on the same weights and inputs, max rel. diff ${legacy.max_rel_diff.toExponential(1)}): unet_batch2 ${fmt(legacy.median)} ms ` +
    `(${legacy.layout === 'channels_last' ? 'channels-last' : 'contiguous'}, ${legacy.threads} threads, inference_mode) — the engine is ${fmt(ratio, 2, '×')} faster.\n`
  );
}

const fmt = (x: number | undefined, d = 1, suffix = '') => (x === undefined || !Number.isFinite(x) ? '–' : `${x.toFixed(d)}${suffix}`);

export function scaleTable(r: ScaleBenchReport, torchNote: string): string {
  const head =
    '| stage | GMAC | engine ms | bare ORT ms | engine ÷ bare | PyTorch ms | PyTorch ÷ engine | engine GFLOP/s | of MatMul ceiling | max rel. diff vs PyTorch |';
  const rows = r.stages.map(
    (s) =>
      `| ${s.stage} | ${fmt(s.gmac, 2)} | ${fmt(s.engineMs)} | ${fmt(s.bareMs)} | ${fmt(s.vsBare, 2)} | ${fmt(s.torchMs)}${s.torchLayout === 'channels_last' ? ' (channels-last)' : ''} | ${fmt(s.vsTorch, 2, '×')} | ${fmt(s.engineGflops, 0)} | ${fmt(s.ofCeiling === undefined ? undefined : s.ofCeiling * 100, 0, ' %')} | ${s.relDiff === undefined ? '–' : s.relDiff.toExponential(1)} |`,
  );
  const lines = [head, `|${'---|'.repeat(10)}`, ...rows];
  if (r.pruned)
    lines.push(`| unet pruned at ${r.pruned.tap} | | ${fmt(r.pruned.engineMs)} | | | | | | | ${fmt(r.pruned.ofFull * 100, 0, ' %')} of the full pass |`);
  const dec = r.stages.find((s) => s.stage === 'decode_per_token');
  if (dec && r.memory)
    lines.push(
      '',
      `Decode: ${fmt(dec.tokensPerSecond)} tokens/s in the engine${dec.torchMs ? `, ${fmt(1000 / dec.torchMs)} in PyTorch` : ''}. ` +
        `Memory copy bandwidth ${fmt(r.memory.bandwidthGBs)} GB/s ÷ ${(r.memory.bytesPerToken / 1e9).toFixed(2)} GB of weights read per token ` +
        `= a bound of ${fmt(r.memory.decodeBoundTokensPerSecond)} tokens/s; the engine reaches ${fmt((dec.ofCeiling ?? NaN) * 100, 0)} % of it` +
        `${dec.tokensAgree === undefined ? '' : `; its greedy tokens equal PyTorch's at ${fmt(dec.tokensAgree * 100, 0)} % of positions`}.`,
    );
  const q = r.stages.find((s) => s.stage === 'decode_per_token_int8');
  if (q)
    lines.push(
      '',
      `int8 decoder (the \`_quantized\` variant transformers.js repos publish, onnxruntime dynamic quantization): ${fmt(q.tokensPerSecond)} tokens/s` +
        `${q.vsTorch ? ` = ${fmt(q.vsTorch, 2)}× PyTorch's float32` : ''}, ${fmt((q.ofCeiling ?? NaN) * 100, 0)} % of its own bandwidth bound` +
        `${q.tokensAgree === undefined ? '' : `; its greedy tokens equal PyTorch's float32 ones at ${fmt(q.tokensAgree * 100, 0)} % of positions`}.`,
    );
  return [
    `Scale ${r.scale}, image ${r.image} px, ${r.iterations} iterations after warm-up, ${r.cores} cores; medians.`,
    `MatMul ceiling: ${r.matmul.n}×${r.matmul.n} float32 in ONNX Runtime, ${fmt(r.matmul.medianMs)} ms = ${fmt(r.matmul.gflops, 0)} GFLOP/s.`,
    `PyTorch: ${torchNote}. Peak RSS of this process: ${(r.peakRssBytes / 2 ** 30).toFixed(2)} GiB.`,
    '',
    ...lines,
    '',
  ].join('\n');
}

const gib = (b: number) => (b / 2 ** 30).toFixed(2);

/** Composes (once) an SD + CLIP pack from the bench models and runs `bench --rss-probe` on it in a child process. */
async function rssCheck(dir: string, image: number): Promise<RssProbe> {
  const pack = path.join(dir, `pack-${image}`);
  if (!fs.existsSync(path.join(pack, 'pack.json')))
    await importPack({
      sd: path.join(dir, 'sd'),
      clip: path.join(dir, 'clip'),
      out: pack,
      name: `bench-${path.basename(dir)}-${image}`,
      imageSize: image,
      validate: false,
    });
  const r = spawnSync(process.execPath, [path.join(REPO_ROOT, 'bin', 'twinlens.js'), 'bench', '--rss-probe', pack, '--json'], {
    encoding: 'utf8',
    maxBuffer: 1 << 24,
  });
  if (r.status !== 0) throw new TwinLensError('INTERNAL', `the memory probe failed: ${(r.stderr || r.stdout).trim().split('\n').pop()}`);
  return JSON.parse(r.stdout) as RssProbe;
}

export async function runScaleCommand(o: ScaleCommandOptions): Promise<void> {
  if (!(SCALES as readonly string[]).includes(o.scale))
    throw new TwinLensError('INVALID_ARGUMENT', `--scale ${o.scale} is not known`, `Use one of: ${SCALES.join(', ')}`);
  const dir = path.resolve(o.benchDir ?? path.join(REPO_ROOT, '.cache', 'bench', o.scale));
  const problem = pythonProblem(projectPython(), ['torch', 'diffusers', 'transformers', 'onnx', 'safetensors']);
  const index = path.join(dir, 'scale.json');
  const complete = fs.existsSync(index) && !!(JSON.parse(fs.readFileSync(index, 'utf8')) as { complete?: boolean }).complete;
  if (problem) {
    if (!complete)
      throw new TwinLensError(
        'INVALID_ARGUMENT',
        `The ${o.scale} bench models are not in ${dir} and cannot be made: ${problem}`,
        'Run `npm run setup:py` first',
      );
  } else {
    // Always asked: it returns at once when every part is there, and exports only what is missing
    // (an interrupted run, or a scale that gained a part since).
    if (!complete) process.stderr.write(`Generating the ${o.scale} bench models into ${dir} (once; cached)…\n`);
    await python('twinlens_train.bench.scale_models', ['--scale', o.scale, '--out', dir]);
  }
  let reference: ScaleReference | undefined;
  let torchNote: string;
  if (!o.reference) torchNote = 'not run (--no-reference)';
  else if (problem) torchNote = `not run (${problem})`;
  else {
    process.stderr.write('PyTorch reference (same weights, same inputs)…\n');
    const threads = o.threads ?? os.availableParallelism();
    reference = lastJson<ScaleReference>(
      await python('twinlens_train.bench.scale_reference', [
        '--dir',
        dir,
        '--iterations',
        String(o.iterations),
        '--warmup',
        String(o.warmup),
        '--threads',
        String(threads),
        ...(o.imageSize ? ['--image', String(o.imageSize)] : []),
      ]),
    );
    torchNote = `${reference.torch} eager, ${reference.threads} threads, inference_mode, the faster of contiguous / channels-last`;
  }
  let legacy: LegacyTorch | undefined;
  let legacyNote: string | undefined;
  if (reference) {
    legacyNote = legacyProblem(legacyPython()) ?? undefined;
    if (!legacyNote) {
      process.stderr.write(`Debian's PyTorch (${legacyPython()}), the same UNet…\n`);
      legacy = await legacyTorch(dir, reference.image, o, o.threads ?? os.availableParallelism());
    }
  }
  process.stderr.write('Engine and bare ONNX Runtime…\n');
  const report = await runScaleBench({
    dir,
    image: o.imageSize,
    iterations: o.iterations,
    warmup: o.warmup,
    provider: o.provider as ProviderChoice,
    threads: o.threads,
    tap: o.tap,
    reference,
    onProgress: (what, done, total) => done < total && process.stderr.write(`  [${done + 1}/${total}] ${what}\n`),
  });
  let rss: RssProbe | undefined;
  if (o.rss !== false) {
    process.stderr.write('Peak memory of one question in a fresh process vs packs estimate…\n');
    rss = await rssCheck(dir, report.image);
  }
  let table = scaleTable(report, torchNote) + legacyLine(report, legacy, legacyNote);
  if (rss)
    table +=
      `\nMemory: an SD + CLIP pack composed from these models (packs import), one question's features computed twice in a fresh ` +
      `process: peak RSS ${gib(rss.peakBytes)} GiB − ${gib(rss.baselineBytes)} GiB of Node before opening = ${gib(rss.peakBytes - rss.baselineBytes)} GiB; ` +
      `packs estimate said ${gib(rss.estimateBytes)} GiB (measured ÷ estimate = ${rss.ratio.toFixed(2)}).\n`;
  if (o.markdown) fs.writeFileSync(o.markdown, table);
  if (o.chart) fs.writeFileSync(o.chart, scaleChartSvg(report));
  if (o.json) printJson({ ...report, reference: reference ?? null, torchNote, legacyTorch: legacy ?? null, legacyNote: legacyNote ?? null, rss: rss ?? null });
  else process.stdout.write(table);
}
