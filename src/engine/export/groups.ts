/**
 * Export groups: the files written for one tap at one t (tensors for the
 * guided, conditional and unconditional branches; PCA, difference, norm and
 * channel panels), for the cross-attention maps at one t (tensor plus one
 * overlay per question word), and for CLIP's patch features — each closed by
 * a sidecar that records how to regenerate it. Also reads a group's tensors
 * back, so a resumed run can draw its sheets without re-extracting.
 */
import * as path from 'node:path';
import type { CrossAttentionMaps, FeatureMap, TapFeatures } from '../../shared/contract.js';
import type { RgbImage } from '../image/image.js';
import { type FeatureGrid, tapBranches } from '../viz/maps.js';
import { attentionPanels, channelsPanel, differencePanel, normPanel, type Panel, pcaPanels } from '../viz/panels.js';
import { encodePng } from '../viz/render.js';
import { completeGroup, type ExportFormat, type FileSink, GroupWriter, type RequestKey, readSidecar, safeName } from './files.js';
import { TENSOR_FORMAT_REGISTRY, TENSOR_FORMATS_BY_PREFERENCE } from './formats/index.js';
import type { NamedTensor } from './safetensors.js';

/** Facts shared by every group of one image in one run (recorded in each sidecar). */
export interface ImageContext {
  dir: string;
  formats: ReadonlySet<ExportFormat>;
  /** Panel size in pixels. */
  size: number;
  /** The encoder's view of the image at `size`. */
  base: RgbImage;
  pack: string;
  packDir: string;
  image: string;
  imageHash: string;
  prompt: string;
  guidance: number;
  seed: number;
  ensemble: number;
  /**
   * The extraction request the tensors came from. ONNX Runtime's results for a
   * tap can differ in the last bits with the set of outputs requested (the
   * edited graph differs), so regenerating exactly means the same taps and
   * cross-attention flag.
   */
  extraction: { taps: string[]; crossAttention: boolean };
  /** Send files here instead of writing them under `dir`. */
  sink?: FileSink;
}

export type GroupKind = 'tap' | 'cross-attention' | 'clip';

export function groupName(kind: GroupKind, ctx: Pick<ImageContext, 'guidance'>, tap?: string, t?: number): string {
  if (kind === 'clip') return 'clip';
  if (kind === 'cross-attention') return `cross-attention_t${t}`;
  return `${safeName(tap ?? '')}_t${t}_s${ctx.guidance}`;
}

/** The request a group is made from: equal keys ⇒ equal files. */
export function groupRequest(kind: GroupKind, ctx: ImageContext, tap?: string, t?: number): RequestKey {
  const base = { kind, pack: ctx.pack, imageHash: ctx.imageHash, size: ctx.size };
  if (kind === 'clip') return base;
  // Cross-attention is read from the conditional pass: it does not depend on guidance.
  const diffusion = { ...base, prompt: ctx.prompt, t: t ?? null, seed: ctx.seed, ensemble: ctx.ensemble };
  return kind === 'cross-attention' ? diffusion : { ...diffusion, tap: tap ?? null, guidance: ctx.guidance };
}

export function isGroupComplete(kind: GroupKind, ctx: ImageContext, tap?: string, t?: number): boolean {
  const file = path.join(ctx.dir, `${groupName(kind, ctx, tap, t)}.json`);
  return !!completeGroup(file, { request: groupRequest(kind, ctx, tap, t), formats: [...ctx.formats] });
}

function shellQuote(s: string): string {
  return /^[A-Za-z0-9_./=:,@+-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}

/** The command that regenerates a group exactly (`export` always reads cross-attention too). */
export function regenerateCommand(ctx: ImageContext, opts: { t?: number }): string {
  const args = ['npx', 'twinlens', 'export', '--pack', ctx.packDir, '--image', ctx.image, '--question', ctx.prompt, '--taps', ctx.extraction.taps.join(',')];
  if (opts.t !== undefined) args.push('--t', String(opts.t));
  args.push('--guidance', String(ctx.guidance), '--seed', String(ctx.seed), '--ensemble', String(ctx.ensemble), '--size', String(ctx.size), '--out', '<dir>');
  return args.map(shellQuote).join(' ');
}

/** A tensor file's string metadata: the sidecar's common fields (without the pack's folder, a local path) and `extra`. */
function metadata(ctx: ImageContext, extra: Record<string, unknown>): Record<string, string> {
  const { packDir: _local, ...common } = sidecarCommon(ctx);
  const all: Record<string, unknown> = { ...common, ...extra };
  return Object.fromEntries(Object.entries(all).map(([k, v]) => [k, typeof v === 'string' ? v : JSON.stringify(v)]));
}

/** The tensor each group kind's single-tensor files are named after (`<name>.npy`). */
const MAIN_TENSOR: Record<string, string> = { tap: 'guided', 'cross-attention': 'maps', clip: 'patches' };

async function writeTensorsAndPanels(
  w: GroupWriter,
  ctx: ImageContext,
  name: string,
  tensors: NamedTensor[],
  meta: Record<string, unknown>,
  panels: () => Panel[],
  main: string,
): Promise<Record<string, unknown>> {
  for (const format of Object.values(TENSOR_FORMAT_REGISTRY)) {
    if (!ctx.formats.has(format.id)) continue;
    for (const f of format.encode(name, tensors, metadata(ctx, meta), main)) w.write(f.name, format.id, f.data);
  }
  const panelMeta: Record<string, unknown> = {};
  if (ctx.formats.has('png')) {
    for (const p of panels()) {
      w.write(`${p.id}.png`, 'png', await encodePng(p.image));
      panelMeta[`${p.id}.png`] = { kind: p.kind, label: p.label, ...p.meta };
    }
  }
  return panelMeta;
}

function sidecarCommon(ctx: ImageContext) {
  return {
    pack: ctx.pack,
    packDir: ctx.packDir,
    image: ctx.image,
    imageHash: ctx.imageHash,
    prompt: ctx.prompt,
    guidance: ctx.guidance,
    seed: ctx.seed,
    ensemble: ctx.ensemble,
  };
}

/** One tap at one t: guided/cond/uncond tensors and their panels. */
export async function writeTapGroup(ctx: ImageContext, tap: TapFeatures, t: number): Promise<string[]> {
  const name = groupName('tap', ctx, tap.alias, t);
  const w = new GroupWriter(ctx.dir, ctx.sink);
  const b = tapBranches(tap);
  const shape = [tap.height * tap.width, tap.channels];
  const tensors: NamedTensor[] = [{ name: 'guided', shape, data: tap.data }];
  if (tap.cond) tensors.push({ name: 'cond', shape, data: tap.cond });
  if (tap.uncond) tensors.push({ name: 'uncond', shape, data: tap.uncond });
  const info = { tap: tap.alias, tensorName: tap.tensorName, t, height: tap.height, width: tap.width, channels: tap.channels, layout: '[H*W, C]' };
  const panels = () => {
    const items = [{ id: `${name}_pca`, label: `${tap.alias} PCA`, source: 'diffusion' as const, grid: b.guided }];
    if (b.cond) items.push({ id: `${name}_cond_pca`, label: `${tap.alias} cond PCA`, source: 'diffusion', grid: b.cond });
    if (b.uncond) items.push({ id: `${name}_uncond_pca`, label: `${tap.alias} uncond PCA`, source: 'diffusion', grid: b.uncond });
    const out = pcaPanels(items, ctx.size);
    if (b.difference) out.push(differencePanel(`${name}_diff`, `${tap.alias} cond − uncond`, b.difference, ctx.base));
    out.push(normPanel(`${name}_norm`, `${tap.alias} norm`, 'diffusion', b.guided, ctx.size, ctx.base));
    out.push(channelsPanel(`${name}_channels`, `${tap.alias} strongest channels`, 'diffusion', b.guided, ctx.size, 9));
    return out;
  };
  const panelMeta = await writeTensorsAndPanels(w, ctx, name, tensors, info, panels, MAIN_TENSOR.tap);
  w.finish(`${name}.json`, {
    kind: 'tap',
    request: groupRequest('tap', ctx, tap.alias, t),
    ...sidecarCommon(ctx),
    ...info,
    shape,
    dtype: 'float32',
    tensors: tensors.map((x) => x.name),
    panels: panelMeta,
    extraction: ctx.extraction,
    regenerate: regenerateCommand(ctx, { t }),
  });
  return w.paths();
}

/** Cross-attention maps at one t: the [tokens, H, W] tensor and one overlay per word. */
export async function writeCrossAttentionGroup(ctx: ImageContext, x: CrossAttentionMaps, t: number): Promise<string[]> {
  const name = groupName('cross-attention', ctx, undefined, t);
  const w = new GroupWriter(ctx.dir, ctx.sink);
  const shape = [x.tokens.length, x.height, x.width];
  const info = { t, tokens: x.tokens, layers: x.layers, height: x.height, width: x.width, layout: '[tokens, H, W]' };
  const panelMeta = await writeTensorsAndPanels(
    w,
    ctx,
    name,
    [{ name: 'maps', shape, data: x.maps }],
    info,
    () => attentionPanels(x, ctx.base, `${name}_`),
    MAIN_TENSOR['cross-attention'],
  );
  w.finish(`${name}.json`, {
    kind: 'cross-attention',
    request: groupRequest('cross-attention', ctx, undefined, t),
    ...sidecarCommon(ctx),
    ...info,
    shape,
    dtype: 'float32',
    panels: panelMeta,
    extraction: ctx.extraction,
    regenerate: regenerateCommand(ctx, { t }),
  });
  return w.paths();
}

/** Record that a group has nothing to write (so a resumed run does not extract again for it). */
export function writeEmptyGroup(ctx: ImageContext, kind: GroupKind, t: number | undefined, reason: string): string[] {
  const w = new GroupWriter(ctx.dir, ctx.sink);
  w.finish(`${groupName(kind, ctx, undefined, t)}.json`, { kind, request: groupRequest(kind, ctx, undefined, t), ...sidecarCommon(ctx), empty: true, reason });
  return w.paths();
}

/** CLIP patch features (penultimate layer, CLS dropped, as LLaVA-1.5 reads them). */
export async function writeClipGroup(ctx: ImageContext, clip: FeatureMap): Promise<string[]> {
  const name = groupName('clip', ctx);
  const w = new GroupWriter(ctx.dir, ctx.sink);
  const shape = [clip.height * clip.width, clip.channels];
  const info = { tensorName: clip.tensorName, height: clip.height, width: clip.width, channels: clip.channels, layout: '[H*W, C]' };
  const panels = () => [
    ...pcaPanels([{ id: 'clip_pca', label: 'CLIP PCA', source: 'clip', grid: clip }], ctx.size),
    normPanel('clip_norm', 'CLIP norm', 'clip', clip, ctx.size, ctx.base),
    channelsPanel('clip_channels', 'CLIP strongest channels', 'clip', clip, ctx.size, 9),
  ];
  const panelMeta = await writeTensorsAndPanels(w, ctx, name, [{ name: 'patches', shape, data: clip.data }], info, panels, MAIN_TENSOR.clip);
  w.finish(`${name}.json`, {
    kind: 'clip',
    request: groupRequest('clip', ctx),
    ...sidecarCommon(ctx),
    ...info,
    shape,
    dtype: 'float32',
    panels: panelMeta,
    regenerate: regenerateCommand(ctx, {}),
  });
  return w.paths();
}

/** A group's tensors read back from its .safetensors, or failing that its .npy files. */
export function readGroupTensors(dir: string, name: string): { sidecar: Record<string, unknown>; tensors: Map<string, Float32Array> } | undefined {
  const sidecar = readSidecar(path.join(dir, `${name}.json`));
  if (!sidecar) return undefined;
  for (const format of TENSOR_FORMATS_BY_PREFERENCE) {
    const tensors = format.decode(dir, name, sidecar.files, MAIN_TENSOR[sidecar.kind] ?? 'maps');
    if (tensors) return { sidecar, tensors };
  }
  return undefined;
}

/** The tap features of a written group, as the engine returned them. */
export function readTapGroup(ctx: ImageContext, alias: string, t: number): TapFeatures | undefined {
  const g = readGroupTensors(ctx.dir, groupName('tap', ctx, alias, t));
  const s = g?.sidecar as { height: number; width: number; channels: number; tensorName: string } | undefined;
  const guided = g?.tensors.get('guided');
  if (!g || !s || !guided) return undefined;
  return {
    alias,
    tensorName: s.tensorName,
    height: s.height,
    width: s.width,
    channels: s.channels,
    data: guided,
    cond: g.tensors.get('cond'),
    uncond: g.tensors.get('uncond'),
  };
}

export function readCrossAttentionGroup(ctx: ImageContext, t: number): CrossAttentionMaps | undefined {
  const g = readGroupTensors(ctx.dir, groupName('cross-attention', ctx, undefined, t));
  const s = g?.sidecar as { tokens: string[]; layers: string[]; height: number; width: number } | undefined;
  const maps = g?.tensors.get('maps');
  return g && s && maps ? { tokens: s.tokens, layers: s.layers, height: s.height, width: s.width, maps } : undefined;
}

export function readClipGroup(ctx: ImageContext): FeatureGrid | undefined {
  const g = readGroupTensors(ctx.dir, 'clip');
  const s = g?.sidecar as { height: number; width: number; channels: number } | undefined;
  const data = g?.tensors.get('patches');
  return g && s && data ? { height: s.height, width: s.width, channels: s.channels, data } : undefined;
}
