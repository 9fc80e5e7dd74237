/**
 * A batch export, resumable: for each image and timestep, extract features
 * once (all taps, cross-attention, CLIP on the first t) and write every
 * group that is not already complete on disk; then the per-image sheet
 * (layers × timesteps) and, for exactly two images, the pair sheet. Groups
 * found complete are skipped without extraction; sheets reuse tensors read
 * back from disk, extracting again only when no tensor format was written.
 * A failing image is recorded and the batch goes on. The feature source is
 * injected (the CLI passes the engine process), so this runs in tests and
 * hosts alike.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { FeaturesResult } from '../../shared/contract.js';
import { throwIfAborted, toTwinLensError, TwinLensError } from '../../shared/errors.js';
import { loadImage } from '../image/image.js';
import { encoderView } from '../viz/view.js';
import { type ImageFeatures, imageSheet, pairSheet } from './figures.js';
import { completeGroup, type ExportFormat, GroupWriter, type RequestKey, safeName } from './files.js';
import {
  type ImageContext,
  isGroupComplete,
  readClipGroup,
  readCrossAttentionGroup,
  readTapGroup,
  writeClipGroup,
  writeCrossAttentionGroup,
  writeEmptyGroup,
  writeTapGroup,
} from './groups.js';

export interface ExportPlan {
  pack: { name: string; dir: string; hasClip: boolean };
  images: string[];
  prompt: string;
  taps: string[];
  timesteps: number[];
  guidance: number;
  seed: number;
  ensemble: number;
  formats: ExportFormat[];
  /** Panel size in pixels. */
  size: number;
  sheet: boolean;
  out: string;
}

export interface FeatureSource {
  features(image: string, t: number, want: { clip: boolean }, signal?: AbortSignal): Promise<FeaturesResult>;
}

export interface ImageSummary {
  image: string;
  dir: string;
  imageHash?: string;
  written: string[];
  /** Groups found complete and skipped. */
  skipped: string[];
  error?: string;
}

export interface ExportSummary {
  out: string;
  images: ImageSummary[];
  pair?: { files: string[]; t: number; skipped: boolean; similarity?: Record<string, { tokenwise: number; pooled: number }> };
  written: number;
  skipped: number;
  extractions: number;
  failed: number;
  ms: number;
}

export type ProgressFn = (done: number, total: number, what: string) => void;

const IMAGE_EXT = /\.(png|jpe?g|webp|gif|tiff?|avif)$/i;

/** Expand --image arguments: files, folders (their images, sorted) and .txt lists (one path a line, # comments). */
export function listImages(inputs: string[]): string[] {
  const out: string[] = [];
  for (const input of inputs) {
    const abs = path.resolve(input);
    let stat: fs.Stats;
    try {
      stat = fs.statSync(abs);
    } catch {
      throw new TwinLensError('INVALID_ARGUMENT', `--image ${input}: no such file or folder`);
    }
    if (stat.isDirectory()) {
      const files = fs
        .readdirSync(abs)
        .filter((f) => IMAGE_EXT.test(f) && !f.startsWith('.'))
        .sort();
      if (!files.length)
        throw new TwinLensError('INVALID_ARGUMENT', `--image ${input}: the folder has no images`, 'PNG, JPEG, WebP, GIF, TIFF and AVIF files are read');
      out.push(...files.map((f) => path.join(abs, f)));
    } else if (/\.txt$/i.test(abs)) {
      const lines = fs
        .readFileSync(abs, 'utf8')
        .split(/\r?\n/)
        .map((l) => l.trim())
        .filter((l) => l && !l.startsWith('#'));
      out.push(...lines.map((l) => path.resolve(path.dirname(abs), l)));
    } else out.push(abs);
  }
  return out;
}

/** One output folder per image, named by its stem (made unique in order). */
function imageDirs(out: string, images: string[]): string[] {
  const used = new Map<string, number>();
  return images.map((img) => {
    const stem = safeName(path.basename(img, path.extname(img)));
    const n = (used.get(stem) ?? 0) + 1;
    used.set(stem, n);
    return path.join(out, n === 1 ? stem : `${stem}-${n}`);
  });
}

function pairT(timesteps: number[]): number {
  return timesteps.includes(50) ? 50 : timesteps[0];
}

export async function runExport(plan: ExportPlan, source: FeatureSource, progress?: ProgressFn, signal?: AbortSignal): Promise<ExportSummary> {
  const started = performance.now();
  if (!plan.images.length) throw new TwinLensError('INVALID_ARGUMENT', 'No images to export');
  if (!plan.timesteps.length) throw new TwinLensError('INVALID_ARGUMENT', 'No timesteps to export');
  const pair = plan.sheet && plan.images.length === 2;
  const total = plan.images.length * (plan.timesteps.length + (plan.sheet ? 1 : 0)) + (pair ? 1 : 0);
  let done = 0;
  const step = (what: string) => {
    done++;
    progress?.(done, total, what);
  };
  const dirs = imageDirs(plan.out, plan.images);
  const summary: ExportSummary = { out: plan.out, images: [], written: 0, skipped: 0, extractions: 0, failed: 0, ms: 0 };
  const kept: ImageFeatures[] = [];
  const formats = new Set(plan.formats);

  const extract = async (image: string, t: number, clip: boolean) => {
    summary.extractions++;
    return source.features(image, t, { clip }, signal);
  };

  for (const [i, image] of plan.images.entries()) {
    const name = path.basename(image);
    const s: ImageSummary = { image, dir: dirs[i], written: [], skipped: [] };
    summary.images.push(s);
    try {
      throwIfAborted(signal, 'Export');
      const loaded = await loadImage({ path: image });
      s.imageHash = loaded.hash;
      const ctx: ImageContext = {
        dir: dirs[i],
        formats,
        size: plan.size,
        base: await encoderView(loaded, plan.size),
        pack: plan.pack.name,
        packDir: plan.pack.dir,
        image,
        imageHash: loaded.hash,
        prompt: plan.prompt,
        guidance: plan.guidance,
        seed: plan.seed,
        ensemble: plan.ensemble,
        extraction: { taps: plan.taps, crossAttention: true },
      };
      const feats: ImageFeatures = { ctx, label: name, taps: new Map(), crossAttention: new Map() };
      for (const [k, t] of plan.timesteps.entries()) {
        throwIfAborted(signal, 'Export');
        const wantClip = k === 0 && plan.pack.hasClip && !isGroupComplete('clip', ctx);
        const tapsDone = plan.taps.map((tap) => isGroupComplete('tap', ctx, tap, t));
        const xattnDone = isGroupComplete('cross-attention', ctx, undefined, t);
        if (!wantClip && xattnDone && tapsDone.every(Boolean)) {
          s.skipped.push(...plan.taps.map((tap) => `${tap}@t${t}`), `cross-attention@t${t}`);
          if (k === 0 && plan.pack.hasClip) s.skipped.push('clip');
          step(`${name} t=${t} (complete)`);
          continue;
        }
        const res = await extract(image, t, wantClip);
        throwIfAborted(signal, 'Export');
        for (const [j, tap] of res.taps.entries()) {
          if (tapsDone[j]) s.skipped.push(`${plan.taps[j]}@t${t}`);
          else s.written.push(...(await writeTapGroup(ctx, tap, t)));
        }
        if (xattnDone) s.skipped.push(`cross-attention@t${t}`);
        else if (res.crossAttention) s.written.push(...(await writeCrossAttentionGroup(ctx, res.crossAttention, t)));
        else s.written.push(...writeEmptyGroup(ctx, 'cross-attention', t, 'the UNet has no tensors matching diffusion.crossAttention.pattern'));
        if (res.clip && wantClip) s.written.push(...(await writeClipGroup(ctx, res.clip)));
        else if (k === 0 && plan.pack.hasClip) s.skipped.push('clip');
        if (plan.sheet) {
          feats.taps.set(t, res.taps);
          if (res.crossAttention) feats.crossAttention.set(t, res.crossAttention);
          if (res.clip) feats.clip = res.clip;
        }
        step(`${name} t=${t}`);
      }
      if (plan.sheet) {
        const request: RequestKey = {
          kind: 'sheet',
          pack: plan.pack.name,
          imageHash: loaded.hash,
          prompt: plan.prompt,
          taps: plan.taps,
          timesteps: plan.timesteps,
          guidance: plan.guidance,
          seed: plan.seed,
          ensemble: plan.ensemble,
          size: plan.size,
        };
        const need = pair || !completeGroup(path.join(ctx.dir, 'sheet.json'), { request, formats: ['png', 'svg'] });
        if (need) await fillFromDisk(feats, plan, (t, clip) => extract(image, t, clip));
        if (completeGroup(path.join(ctx.dir, 'sheet.json'), { request, formats: ['png', 'svg'] })) s.skipped.push('sheet');
        else {
          const sheet = await imageSheet(feats, plan.taps, plan.timesteps);
          const w = new GroupWriter(ctx.dir);
          w.write('sheet.png', 'png', sheet.png);
          w.write('sheet.svg', 'svg', sheet.svg);
          w.finish('sheet.json', {
            kind: 'sheet',
            request,
            image,
            packDir: plan.pack.dir,
            width: sheet.width,
            height: sheet.height,
            rows: 'taps (PCA, cond − uncond) + cross-attention',
            columns: 'input + timesteps',
          });
          s.written.push(...w.paths());
        }
        if (pair) kept.push(feats);
        step(`${name} sheet`);
      }
    } catch (e) {
      const err = toTwinLensError(e);
      if (err.code === 'CANCELLED') throw err;
      s.error = `[${err.code}] ${err.oneLine()}`;
      summary.failed++;
      // Count this image's remaining steps so the bar still ends at 100 %.
      while (done < (i + 1) * (plan.timesteps.length + (plan.sheet ? 1 : 0))) step(`${name} failed`);
    }
  }

  if (pair) {
    if (kept.length === 2) {
      const [a, b] = kept;
      const t = pairT(plan.timesteps);
      const base = `pair_${safeName(path.basename(a.ctx.dir))}_${safeName(path.basename(b.ctx.dir))}`;
      const request: RequestKey = {
        kind: 'pair',
        pack: plan.pack.name,
        images: [a.ctx.imageHash, b.ctx.imageHash],
        prompt: plan.prompt,
        taps: plan.taps,
        t,
        guidance: plan.guidance,
        seed: plan.seed,
        ensemble: plan.ensemble,
        size: plan.size,
      };
      const existing = completeGroup(path.join(plan.out, `${base}.json`), { request, formats: ['png', 'svg'] });
      if (existing)
        summary.pair = {
          files: existing.files.map((f) => path.join(plan.out, f.name)),
          t,
          skipped: true,
          similarity: existing.similarity as Record<string, { tokenwise: number; pooled: number }>,
        };
      else {
        const r = await pairSheet(a, b, plan.taps, t);
        const w = new GroupWriter(plan.out);
        w.write(`${base}.png`, 'png', r.sheet.png);
        w.write(`${base}.svg`, 'svg', r.sheet.svg);
        w.finish(`${base}.json`, {
          kind: 'pair',
          request,
          images: [a.ctx.image, b.ctx.image],
          similarity: r.similarity,
          measure: 'cosine: token-wise = mean over grid positions; pooled = of mean-pooled features',
        });
        summary.pair = { files: w.paths(), t, skipped: false, similarity: r.similarity };
      }
    }
    step('pair sheet');
  }
  for (const s of summary.images) {
    summary.written += s.written.length;
    summary.skipped += s.skipped.length;
  }
  summary.ms = Math.round(performance.now() - started);
  return summary;
}

/** Complete an image's in-memory features for the sheets: read groups back from disk, else extract. */
async function fillFromDisk(f: ImageFeatures, plan: ExportPlan, extract: (t: number, clip: boolean) => Promise<FeaturesResult>): Promise<void> {
  for (const t of plan.timesteps) {
    let taps = f.taps.get(t);
    if (!taps || taps.length !== plan.taps.length) {
      const read = plan.taps.map((tap) => readTapGroup(f.ctx, tap, t));
      if (read.every((x) => x)) taps = read as NonNullable<(typeof read)[number]>[];
      else {
        const res = await extract(t, plan.pack.hasClip && !f.clip);
        taps = res.taps;
        if (res.crossAttention) f.crossAttention.set(t, res.crossAttention);
        if (res.clip) f.clip = res.clip;
      }
      f.taps.set(t, taps);
    }
    if (!f.crossAttention.has(t)) {
      const x = readCrossAttentionGroup(f.ctx, t);
      if (x) f.crossAttention.set(t, x);
    }
  }
  if (plan.pack.hasClip && !f.clip) f.clip = readClipGroup(f.ctx) ?? (await extract(plan.timesteps[0], true)).clip;
}
