/**
 * `twinlens export`: the Features view's exports, headless and in batches.
 * For each image (files, folders, .txt lists) and timestep it writes the
 * taps' tensors (.npy, .safetensors) and panels (.png) with JSON sidecars,
 * the cross-attention and CLIP maps, and with --sheet a labelled figure
 * sheet per image (layers × timesteps, PNG + SVG) and, for two images, a
 * pair sheet with the intra-pair similarity. Output is resumable: complete
 * groups are skipped, files are written atomically, Ctrl-C loses nothing
 * already written. Extraction runs in the engine process.
 */
import * as path from 'node:path';
import cliProgress from 'cli-progress';
import type { Command } from 'commander';
import { TwinLensError } from '../../shared/errors.js';
import { type ExportPlan, listImages, runExport } from '../../engine/export/batch.js';
import { EXPORT_FORMATS, type ExportFormat } from '../../shared/export-formats.js';
import { EngineClient } from '../../host/engine-client.js';
import { fail, parseIntStrict, parseNumber, printJson } from '../output.js';
import { defaultPackDir } from '../pack-path.js';

interface ExportOptions {
  pack?: string;
  image: string[];
  question: string;
  taps: string[];
  t: string[];
  guidance?: number;
  seed?: number;
  ensemble?: number;
  out?: string;
  sheet?: boolean;
  formats: string;
  size: number;
  provider: string;
  progress: boolean;
  json?: boolean;
}

const collect = (v: string, prev: string[]) => [...prev, v];
const splitList = (xs: string[]) =>
  xs
    .flatMap((x) => x.split(','))
    .map((x) => x.trim())
    .filter(Boolean);

function usage(message: string, hint?: string): TwinLensError {
  return new TwinLensError('INVALID_ARGUMENT', message, hint);
}

function parseTimesteps(xs: string[]): number[] {
  return splitList(xs).map((x) => {
    const n = Number(x);
    if (!Number.isInteger(n) || n < 0 || n > 999) throw usage(`--t: "${x}" is not a timestep in 0…999`);
    return n;
  });
}

function parseFormats(s: string): ExportFormat[] {
  const list = splitList([s]);
  for (const f of list)
    if (!EXPORT_FORMATS.includes(f as ExportFormat)) throw usage(`--formats: unknown format "${f}"`, `Choose from ${EXPORT_FORMATS.join(', ')}`);
  if (!list.length) throw usage('--formats is empty');
  return [...new Set(list)] as ExportFormat[];
}

export function registerExport(program: Command): void {
  program
    .command('export')
    .description('Export feature maps of one or many images: tensors (.npy/.safetensors), panels (.png), JSON sidecars and figure sheets; resumable')
    .option('--pack <dir>', 'model pack folder (default: built-in mini-world)')
    .option('--image <path>', 'image file, folder of images or .txt list (repeatable; two images with --sheet add a pair sheet)', collect, [])
    .option('--question <text>', 'the SD prompt (default: empty = unconditional)', '')
    .option('--taps <aliases>', 'comma-separated tap aliases or tensor names (default: the pack default)', collect, [])
    .option('--t <list>', 'comma-separated timesteps (default: the pack default)', collect, [])
    .option('--guidance <s>', 'guidance scale on features', parseNumber('--guidance'))
    .option('--seed <n>', 'noise seed', parseIntStrict('--seed'))
    .option('--ensemble <n>', 'noise draws to average', parseIntStrict('--ensemble'))
    .option('--out <dir>', 'output folder')
    .option('--sheet', 'also write figure sheets (PNG + SVG)')
    .option('--formats <list>', `comma-separated: ${EXPORT_FORMATS.join(', ')}`, EXPORT_FORMATS.join(','))
    .option('--size <px>', 'panel size in pixels', parseIntStrict('--size'), 256)
    .option('--provider <name>', 'execution provider', 'auto')
    .option('--no-progress', 'no progress bar on stderr')
    .option('--json', 'print a JSON summary')
    .action(async (o: ExportOptions) => {
      let client: EngineClient | undefined;
      let bar: cliProgress.SingleBar | undefined;
      const controller = new AbortController();
      const onSigint = () => controller.abort();
      try {
        if (!o.image.length) throw usage('--image is required', 'Pass an image file, a folder or a .txt list');
        if (!o.out) throw usage('--out is required');
        if (!(o.size >= 16 && o.size <= 2048)) throw usage('--size must be within 16…2048');
        const images = listImages(o.image);
        const formats = parseFormats(o.formats);
        const timesteps = parseTimesteps(o.t);
        client = await EngineClient.start({ packDir: defaultPackDir(o.pack), provider: o.provider });
        const info = await client.call('packInfo', {});
        if (!info.hasDiffusion || !info.defaults)
          throw new TwinLensError('MODE_UNAVAILABLE', `Pack ${info.name} has no diffusion model`, 'Open a pack with a diffusion section');
        const d = info.defaults;
        const plan: ExportPlan = {
          pack: { name: info.name, dir: info.dir, hasClip: info.hasClip },
          images,
          prompt: o.question,
          taps: splitList(o.taps).length ? [...new Set(splitList(o.taps))] : [d.tap],
          timesteps: timesteps.length ? [...new Set(timesteps)] : [d.t],
          guidance: o.guidance ?? d.guidance,
          seed: o.seed ?? d.seed,
          ensemble: o.ensemble ?? d.ensemble,
          formats,
          size: o.size,
          sheet: !!o.sheet,
          out: path.resolve(o.out),
        };
        const engine = client;
        const source = {
          features: (image: string, t: number, want: { clip: boolean }, signal?: AbortSignal) =>
            engine.call(
              'features',
              {
                image: { path: image },
                prompt: plan.prompt,
                taps: plan.taps,
                diffusion: { t, guidance: plan.guidance, seed: plan.seed, ensemble: plan.ensemble },
                crossAttention: true,
                clip: want.clip,
                keepBranches: true,
              },
              { signal },
            ),
        };
        if (o.progress) {
          bar = new cliProgress.SingleBar(
            {
              format: 'export [{bar}] {percentage}% | {value}/{total} | ETA {eta_formatted} | {what}',
              stream: process.stderr,
              hideCursor: true,
              noTTYOutput: true,
              notTTYSchedule: 2000,
              etaBuffer: 20,
            },
            cliProgress.Presets.shades_classic,
          );
        }
        process.once('SIGINT', onSigint);
        let started = false;
        const summary = await runExport(
          plan,
          source,
          (done, total, what) => {
            if (!bar) return;
            if (!started) {
              bar.start(total, 0, { what });
              started = true;
            }
            bar.update(done, { what });
          },
          controller.signal,
        );
        bar?.stop();
        bar = undefined;
        process.off('SIGINT', onSigint);
        await client.dispose();
        if (o.json)
          printJson({
            ...summary,
            settings: {
              pack: info.name,
              prompt: plan.prompt,
              taps: plan.taps,
              timesteps: plan.timesteps,
              guidance: plan.guidance,
              seed: plan.seed,
              ensemble: plan.ensemble,
              formats,
            },
          });
        else {
          for (const s of summary.images)
            process.stdout.write(
              `${s.error ? 'FAILED' : 'ok'}  ${s.image} → ${s.dir}  (${s.written.length} written, ${s.skipped.length} skipped)${s.error ? `: ${s.error}` : ''}\n`,
            );
          if (summary.pair) process.stdout.write(`pair sheet: ${summary.pair.files.find((f) => f.endsWith('.png'))}\n`);
          process.stdout.write(
            `${summary.written} files written, ${summary.skipped} groups skipped, ${summary.extractions} extractions in ${(summary.ms / 1000).toFixed(1)} s\n`,
          );
        }
        if (summary.failed) process.exit(1);
      } catch (e) {
        bar?.stop();
        process.off('SIGINT', onSigint);
        await client?.dispose();
        if ((e as { code?: string }).code === 'CANCELLED') {
          process.stderr.write('twinlens: export interrupted; files written so far are complete — run the same command again to resume\n');
          process.exit(130);
        }
        fail(e);
      }
    });
}
