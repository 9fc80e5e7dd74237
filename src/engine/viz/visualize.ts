/**
 * The contract's `visualize`: what the Features view shows, computed in the
 * engine process so large maps never block the window. It extracts features
 * for one image or a pair (taps with both branches, cross-attention, CLIP),
 * draws the requested panels on the encoders' view of each image — PCAs
 * fitted jointly across the images so colours compare — and returns them as
 * PNG bytes with the token grid and per-token values for hovering, plus the
 * intra-pair similarity, correspondence matches, and on request the export
 * files (tensors with sidecars, panels, a figure sheet) as bytes to save.
 */
import * as path from 'node:path';
import type {
  FeaturesParamsParsed,
  FeaturesResult,
  PackInfo,
  VisualFile,
  VisualizeParamsParsed,
  VisualizeResult,
  VisualMatch,
  VisualPanel,
} from '../../shared/contract.js';
import { TwinLensError } from '../../shared/errors.js';
import type { RequestContext } from '../engine.js';
import { type ImageFeatures, imageSheet, pairSheet } from '../export/figures.js';
import { EXPORT_MIME, type ExportFileKind, type ExportFormat } from '../../shared/export-formats.js';
import { type ImageContext, writeClipGroup, writeCrossAttentionGroup, writeTapGroup } from '../export/groups.js';
import { loadImage, type LoadedImage } from '../image/image.js';
import { tapBranches } from './maps.js';
import {
  attentionPanels,
  channelsPanel,
  correspondencePanels,
  differencePanel,
  imagePanel,
  normPanel,
  type Panel,
  type PcaItem,
  pcaPanels,
  safeId,
} from './panels.js';
import { encodePng } from './render.js';
import { pairSimilarity } from './similarity.js';
import { cropGeometry, encoderView, imageToUnit, unitToImage } from './view.js';

/** What visualize needs from the engine. */
export interface FeatureProvider {
  features(params: FeaturesParamsParsed, ctx?: RequestContext): Promise<FeaturesResult>;
  packInfo(): PackInfo;
}

interface Input {
  loaded: LoadedImage;
  name: string;
  base: ImageContext['base'];
  res: FeaturesResult;
}

function imageName(input: VisualizeParamsParsed['images'][number], i: number, loaded: LoadedImage): string {
  const raw = 'path' in input ? input.path : (input.name ?? `image-${i + 1}`);
  return path.basename(raw) || loaded.hash.slice(0, 12);
}

export async function visualize(engine: FeatureProvider, params: VisualizeParamsParsed, ctx: RequestContext = {}): Promise<VisualizeResult> {
  const started = performance.now();
  const info = engine.packInfo();
  const want = new Set(params.panels);
  const pair = params.images.length === 2;
  const wantClip = info.hasClip && (want.has('clip') || want.has('correspondence') || pair || !!params.files?.tensors.length);
  // Exported files always come with cross-attention, as `twinlens export` extracts them (bit-exact regeneration).
  const wantXattn = want.has('attention') || !!params.files;
  const request = (image: VisualizeParamsParsed['images'][number], t?: number, clip = wantClip): FeaturesParamsParsed => ({
    image,
    prompt: params.prompt,
    taps: params.taps,
    diffusion: t === undefined ? params.diffusion : { ...params.diffusion, t },
    crossAttention: wantXattn,
    crossAttentionLayers: params.crossAttentionLayers,
    clip,
    keepBranches: true,
  });
  const inputs: Input[] = [];
  for (const [i, image] of params.images.entries()) {
    ctx.emit?.({ type: 'progress', stage: 'visualize', done: i, total: params.images.length + 1, message: `features of image ${i + 1}` });
    const loaded = await loadImage(image);
    const res = await engine.features(request(image), ctx);
    inputs.push({ loaded, name: imageName(image, i, loaded), base: await encoderView(loaded, params.size), res });
  }
  ctx.emit?.({ type: 'progress', stage: 'visualize', done: params.images.length, total: params.images.length + 1, message: 'drawing' });
  const settings = inputs[0].res.settings;
  const taps = inputs[0].res.taps.map((t) => t.alias);
  const panels: Array<{ panel: Panel; image: number; tap?: string }> = [];
  const add = (panel: Panel, image: number, tap?: string) => panels.push({ panel, image, tap });

  inputs.forEach((x, i) => want.has('image') && add(imagePanel(`image-${i}`, x.name, x.base), i));
  for (const [k, alias] of taps.entries()) {
    const sid = safeId(alias);
    if (want.has('pca') || want.has('branches')) {
      const items: Array<PcaItem & { image: number; show: boolean }> = [];
      inputs.forEach((x, i) => {
        const b = tapBranches(x.res.taps[k]);
        items.push({
          id: `pca-${sid}-${i}`,
          label: `${alias} PCA`,
          source: 'diffusion',
          grid: b.guided,
          meta: { branch: 'guided', channels: b.guided.channels },
          image: i,
          show: want.has('pca'),
        });
        if (want.has('branches') && b.cond && b.uncond) {
          items.push({
            id: `cond-pca-${sid}-${i}`,
            label: `${alias} cond PCA`,
            source: 'diffusion',
            grid: b.cond,
            meta: { branch: 'cond' },
            image: i,
            show: true,
          });
          items.push({
            id: `uncond-pca-${sid}-${i}`,
            label: `${alias} uncond PCA`,
            source: 'diffusion',
            grid: b.uncond,
            meta: { branch: 'uncond' },
            image: i,
            show: true,
          });
        }
      });
      // One fit over every branch and image shown together, so their colours compare.
      pcaPanels(items, params.size).forEach((p, j) => items[j].show && add(p, items[j].image, alias));
    }
    inputs.forEach((x, i) => {
      const b = tapBranches(x.res.taps[k]);
      if (want.has('difference') && b.difference) add(differencePanel(`difference-${sid}-${i}`, `${alias} cond − uncond`, b.difference, x.base), i, alias);
      if (want.has('norm')) add(normPanel(`norm-${sid}-${i}`, `${alias} norm`, 'diffusion', b.guided, params.size, x.base), i, alias);
      if (want.has('channels'))
        add(
          channelsPanel(`channels-${sid}-${i}`, `${alias} strongest channels`, 'diffusion', b.guided, params.size, params.channels, params.channelRanking),
          i,
          alias,
        );
    });
  }
  if (want.has('attention'))
    inputs.forEach(
      (x, i) => x.res.crossAttention && attentionPanels(x.res.crossAttention, x.base, `attention-${i}-`, { tokens: params.tokens }).forEach((p) => add(p, i)),
    );
  const clips = inputs.map((x) => x.res.clip);
  if (want.has('clip') && clips.every(Boolean)) {
    pcaPanels(
      clips.map((c, i) => ({ id: `clip-pca-${i}`, label: 'CLIP PCA', source: 'clip' as const, grid: c! })),
      params.size,
    ).forEach((p, i) => add(p, i));
    inputs.forEach((x, i) => add(normPanel(`clip-norm-${i}`, 'CLIP norm', 'clip', x.res.clip!, params.size, x.base), i));
  }

  let correspondence: VisualMatch[] | undefined;
  if (want.has('correspondence')) {
    if (!params.point)
      throw new TwinLensError('INVALID_ARGUMENT', 'visualize: correspondence needs a point', 'Pass point: {x, y} in image 0 pixel coordinates');
    const a = inputs[0];
    const b = inputs[pair ? 1 : 0];
    const target = pair ? 1 : 0;
    const gA = cropGeometry(a.loaded.width, a.loaded.height, params.size);
    const gB = cropGeometry(b.loaded.width, b.loaded.height, params.size);
    const unit = imageToUnit(gA, params.point);
    if (!unit.inside)
      throw new TwinLensError(
        'INVALID_ARGUMENT',
        `visualize: point (${params.point.x}, ${params.point.y}) is outside the square the encoders see`,
        'Pick a point inside the centre crop',
      );
    const sources: Array<{ name: string; src: 'clip' | 'diffusion'; A: NonNullable<FeaturesResult['clip']>; B: NonNullable<FeaturesResult['clip']> }> = [];
    if (a.res.clip && b.res.clip) sources.push({ name: 'clip', src: 'clip', A: a.res.clip, B: b.res.clip });
    taps.forEach((alias, k) => sources.push({ name: alias, src: 'diffusion', A: a.res.taps[k], B: b.res.taps[k] }));
    correspondence = [];
    for (const s of sources) {
      const c = correspondencePanels(`correspondence-${safeId(s.name)}`, `${s.name} correspondence`, s.src, s.A, s.B, unit, a.base, b.base);
      if (s === sources[0]) add(c.source, 0);
      add(c.target, target, s.src === 'diffusion' ? s.name : undefined);
      const px = unitToImage(gB, c.best.point);
      correspondence.push({ source: s.name, image: target, row: c.best.row, col: c.best.col, x: px.x, y: px.y, score: c.best.score });
    }
  }

  let similarity: VisualizeResult['similarity'];
  if (pair) {
    similarity = {};
    if (clips[0] && clips[1]) similarity.clip = pick(pairSimilarity(clips[0], clips[1]));
    taps.forEach((alias, k) => (similarity![alias] = pick(pairSimilarity(inputs[0].res.taps[k], inputs[1].res.taps[k]))));
  }

  const out: VisualPanel[] = await Promise.all(
    panels.map(async ({ panel: p, image, tap }) => ({
      id: p.id,
      kind: p.kind,
      source: p.source,
      image,
      tap,
      label: p.label,
      width: p.image.width,
      height: p.image.height,
      png: new Uint8Array(await encodePng(p.image)),
      grid: p.grid,
      values: p.values,
      valueNames: p.valueNames,
      meta: p.meta,
    })),
  );
  const files = params.files ? await exportFiles(engine, params, inputs, info, request, ctx) : undefined;
  ctx.emit?.({ type: 'progress', stage: 'visualize', done: params.images.length + 1, total: params.images.length + 1 });
  return { imageHashes: inputs.map((x) => x.loaded.hash), settings, panels: out, similarity, correspondence, files, ms: performance.now() - started };
}

function pick(s: { tokenwise: number; pooled: number }): { tokenwise: number; pooled: number } {
  return { tokenwise: s.tokenwise, pooled: s.pooled };
}

/** Tensors with sidecars, panels and sheets as bytes, laid out as `twinlens export` would write them. */
async function exportFiles(
  engine: FeatureProvider,
  params: VisualizeParamsParsed,
  inputs: Input[],
  info: PackInfo,
  request: (image: VisualizeParamsParsed['images'][number], t?: number, clip?: boolean) => FeaturesParamsParsed,
  ctx: RequestContext,
): Promise<VisualFile[]> {
  const f = params.files!;
  const files: VisualFile[] = [];
  const sink = (file: string, data: Buffer | string) => {
    const ext = path.extname(file).slice(1);
    files.push({
      name: file.split(path.sep).join('/'),
      mime: EXPORT_MIME[ext as ExportFileKind] ?? 'application/octet-stream',
      bytes: typeof data === 'string' ? new TextEncoder().encode(data) : new Uint8Array(data),
    });
  };
  const formats = new Set<ExportFormat>([...f.tensors, ...(f.panels ? (['png'] as const) : [])]);
  const s = inputs[0].res.settings;
  const contexts = inputs.map<ImageContext>((x) => ({
    dir: safeId(path.basename(x.name, path.extname(x.name))),
    formats,
    size: params.size,
    base: x.base,
    pack: info.name,
    packDir: info.dir,
    image: x.name,
    imageHash: x.loaded.hash,
    prompt: s.prompt,
    guidance: s.guidance,
    seed: s.seed,
    ensemble: s.ensemble,
    extraction: { taps: inputs[0].res.taps.map((t) => t.alias), crossAttention: true },
    sink,
  }));
  if (formats.size) {
    for (const [i, x] of inputs.entries()) {
      for (const tap of x.res.taps) await writeTapGroup(contexts[i], tap, s.t);
      if (x.res.crossAttention) await writeCrossAttentionGroup(contexts[i], x.res.crossAttention, s.t);
      if (x.res.clip) await writeClipGroup(contexts[i], x.res.clip);
    }
  }
  const feats = (i: number): ImageFeatures => ({
    ctx: contexts[i],
    label: inputs[i].name,
    taps: new Map([[s.t, inputs[i].res.taps]]),
    crossAttention: new Map(inputs[i].res.crossAttention ? [[s.t, inputs[i].res.crossAttention!]] : []),
    clip: inputs[i].res.clip,
  });
  const taps = inputs[0].res.taps.map((t) => t.alias);
  if (f.sheet === 'pair') {
    if (inputs.length !== 2) throw new TwinLensError('INVALID_ARGUMENT', 'visualize: a pair sheet needs two images');
    const r = await pairSheet(feats(0), feats(1), taps, s.t);
    sink('pair-sheet.png', r.sheet.png);
    sink('pair-sheet.svg', r.sheet.svg);
  } else if (f.sheet === 'layers-timesteps') {
    const timesteps = f.timesteps?.length ? [...new Set(f.timesteps)] : [10, 50, 250];
    for (let i = 0; i < inputs.length; i++) {
      const fi = feats(i);
      for (const [k, t] of timesteps.entries()) {
        if (fi.taps.has(t)) continue;
        ctx.emit?.({ type: 'progress', stage: 'sheet', done: k, total: timesteps.length, message: `t = ${t}` });
        const res = await engine.features(request(params.images[i], t, false), ctx);
        fi.taps.set(t, res.taps);
        if (res.crossAttention) fi.crossAttention.set(t, res.crossAttention);
      }
      const sheet = await imageSheet(fi, taps, timesteps);
      sink(`${contexts[i].dir}/sheet.png`, sheet.png);
      sink(`${contexts[i].dir}/sheet.svg`, sheet.svg);
    }
  }
  return files;
}
