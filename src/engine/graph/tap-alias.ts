/**
 * The study's layer aliases and what diffusers module each one names.
 *
 * The paper writes taps as `U-L1-R1-B0-Cross-Q`: U/D/M = up/down/mid block,
 * L = block index, R = resnet/attention index, B = transformer block, then what
 * to read (Cross/Self Q/K/V/Out, the block's Out, a resnet's or an attention
 * module's output). Users type these names; graphs only know module paths, so
 * this file holds the grammar (alias → diffusers module path, `parseTapAlias`)
 * and enumerates the aliases a given graph supports (`listGraphTaps`, for the
 * layer browser and `twinlens features --list-taps`). SD 1.x, SD 2.x and the
 * mini-world UNet share diffusers' module names (they differ in widths and
 * heads), so one grammar serves every family: there are no per-family presets.
 * Module path → tensor name happens in tap-resolve.ts.
 */
import { TwinLensError } from '../../shared/errors.js';
import { knownModulePaths, moduleScopeKey } from './module-scope.js';
import type { GraphIndex } from './onnx-index.js';

/** The six layers the study reports on; the first is its best single layer. */
export const STUDY_TAPS = [
  'U-L1-R1-B0-Cross-Q',
  'D-L2-R0-B0-Cross-Q',
  'U-L1-R1-B0-Out',
  'U-L1-R2-B0-Cross-Q',
  'U-L2-R1-B0-Cross-Q',
  'U-L2-R2-Res-Out',
] as const;

export type TapKind =
  'cross-q' | 'cross-k' | 'cross-v' | 'cross-out' | 'self-q' | 'self-k' | 'self-v' | 'self-out' | 'block-out' | 'attn-out' | 'res-out' | 'clip-layer';

export interface ParsedTapAlias {
  /** Canonical spelling, e.g. `U-L1-R1-B0-Cross-Q`. */
  alias: string;
  kind: TapKind;
  /** Dotted diffusers / transformers module path. */
  modulePath: string;
  block?: 'down' | 'mid' | 'up';
  level?: number;
  index?: number;
  transformer?: number;
  layer?: number;
}

const ATTN_TARGET: Record<string, { suffix: string; short: string }> = {
  q: { suffix: 'to_q', short: 'Q' },
  k: { suffix: 'to_k', short: 'K' },
  v: { suffix: 'to_v', short: 'V' },
  out: { suffix: 'to_out.0', short: 'Out' },
};

const UNET_ALIAS = /^(?:([UD])-L(\d+)|M)-R(\d+)-(?:B(\d+)-(?:(Cross|Self)-(Q|K|V|Out)|Out)|(Res)-Out|(Attn)-Out)$/i;
const CLIP_ALIAS = /^CLIP-(?:L(\d+)|(penultimate)|(last))$/i;

export interface AliasOptions {
  /** Encoder layer count of the CLIP vision model; needed for CLIP-penultimate / CLIP-last. */
  clipNumLayers?: number;
}

/** Parses an alias; undefined when the string is not in the alias grammar. Case-insensitive. */
export function parseTapAlias(alias: string, opts: AliasOptions = {}): ParsedTapAlias | undefined {
  const text = alias.trim();
  const clip = CLIP_ALIAS.exec(text);
  if (clip) {
    let layer: number;
    if (clip[1] !== undefined) layer = Number(clip[1]);
    else {
      const n = opts.clipNumLayers;
      if (!n || n < 2) {
        throw new TwinLensError('INVALID_ARGUMENT', `${text} needs the CLIP encoder's layer count, which is unknown`, 'Set clip.numLayers in pack.json.');
      }
      layer = clip[2] ? n - 2 : n - 1;
    }
    return { alias: `CLIP-L${layer}`, kind: 'clip-layer', modulePath: `vision_model.encoder.layers.${layer}`, layer };
  }
  const m = UNET_ALIAS.exec(text);
  if (!m) return undefined;
  const [, ud, level, r, b, crossSelf, what, res, attn] = m;
  const block = ud === undefined ? 'mid' : ud.toUpperCase() === 'U' ? 'up' : 'down';
  const blockPath = block === 'mid' ? 'mid_block' : `${block}_blocks.${Number(level)}`;
  const head = block === 'mid' ? `M-R${Number(r)}` : `${block === 'up' ? 'U' : 'D'}-L${Number(level)}-R${Number(r)}`;
  const base = { block, index: Number(r), ...(level !== undefined ? { level: Number(level) } : {}) } as const;
  if (res) return { ...base, alias: `${head}-Res-Out`, kind: 'res-out', modulePath: `${blockPath}.resnets.${Number(r)}` };
  const attnPath = `${blockPath}.attentions.${Number(r)}`;
  if (attn) return { ...base, alias: `${head}-Attn-Out`, kind: 'attn-out', modulePath: attnPath };
  const blockOut = `${attnPath}.transformer_blocks.${Number(b)}`;
  const tb = { ...base, transformer: Number(b) };
  if (!crossSelf) return { ...tb, alias: `${head}-B${Number(b)}-Out`, kind: 'block-out', modulePath: blockOut };
  const cross = crossSelf.toLowerCase() === 'cross';
  const target = ATTN_TARGET[what.toLowerCase()];
  return {
    ...tb,
    alias: `${head}-B${Number(b)}-${cross ? 'Cross' : 'Self'}-${target.short}`,
    kind: `${cross ? 'cross' : 'self'}-${what.toLowerCase()}` as TapKind,
    modulePath: `${blockOut}.${cross ? 'attn2' : 'attn1'}.${target.suffix}`,
  };
}

/** One alias a graph supports, for a layer browser. */
export interface TapAliasInfo {
  alias: string;
  modulePath: string;
  kind: TapKind;
  /** One of STUDY_TAPS. */
  study: boolean;
  /** What the tensor is, in words. */
  description: string;
  /** How its shape is known: tokens and channels only after a run. */
  hint: string;
}

const SCOPE_PATTERN =
  /^(?:(up|down)_blocks\.(\d+)|mid_block)\/(?:resnets\.(\d+)|attentions\.(\d+)(?:\/transformer_blocks\.(\d+)(?:\/attn([12])\/(to_q|to_k|to_v|to_out\.0))?)?)$/;
const CLIP_SCOPE = /^vision_model\/encoder\/layers\.(\d+)$/;
const KIND_ORDER: TapKind[] = ['self-q', 'self-k', 'self-v', 'self-out', 'cross-q', 'cross-k', 'cross-v', 'cross-out', 'block-out', 'attn-out'];
const SHORT: Record<string, string> = { to_q: 'Q', to_k: 'K', to_v: 'V', 'to_out.0': 'Out' };

/**
 * Every alias whose module has nodes in the graph: Cross/Self Q/K/V/Out,
 * transformer-block outputs, attention-module outputs, resnet outputs and CLIP
 * encoder layers, in UNet order (down, mid, up; then level, index).
 */
export function listGraphTaps(index: GraphIndex): TapAliasInfo[] {
  let taps = listed.get(index);
  if (!taps) {
    taps = enumerateTaps(index);
    listed.set(index, taps);
  }
  return taps.map((t) => ({ ...t }));
}

const listed = new WeakMap<GraphIndex, TapAliasInfo[]>();

function enumerateTaps(index: GraphIndex): TapAliasInfo[] {
  const found: Array<{ info: TapAliasInfo; key: number[] }> = [];
  const study = new Set<string>(STUDY_TAPS);
  for (const modulePath of knownModulePaths(index)) {
    const scope = moduleScopeKey(modulePath);
    const clip = CLIP_SCOPE.exec(scope);
    if (clip) {
      const layer = Number(clip[1]);
      found.push({
        info: {
          alias: `CLIP-L${layer}`,
          modulePath,
          kind: 'clip-layer',
          study: false,
          description: `output of CLIP vision encoder layer ${layer}`,
          hint: 'patch tokens (+CLS) × hidden size',
        },
        key: [3, layer],
      });
      continue;
    }
    const m = SCOPE_PATTERN.exec(scope);
    if (!m) continue;
    const [, ud, level, res, attn, tb, attnNo, proj] = m;
    const head = ud === undefined ? `M-R${res ?? attn}` : `${ud === 'up' ? 'U' : 'D'}-L${level}-R${res ?? attn}`;
    const blockName = ud === undefined ? 'mid_block' : `${ud}_blocks.${level}`;
    const blockOrder = ud === 'down' ? 0 : ud === undefined ? 1 : 2;
    let alias: string;
    let kind: TapKind;
    let description: string;
    if (res !== undefined) {
      alias = `${head}-Res-Out`;
      kind = 'res-out';
      description = `output of ${blockName} resnet ${res}`;
    } else if (tb === undefined) {
      alias = `${head}-Attn-Out`;
      kind = 'attn-out';
      description = `output of ${blockName} attention module ${attn} (after proj_out and the residual)`;
    } else if (proj === undefined) {
      alias = `${head}-B${tb}-Out`;
      kind = 'block-out';
      description = `output of transformer block ${tb} in ${blockName} attention ${attn}`;
    } else {
      const cross = attnNo === '2';
      alias = `${head}-B${tb}-${cross ? 'Cross' : 'Self'}-${SHORT[proj]}`;
      kind = `${cross ? 'cross' : 'self'}-${SHORT[proj].toLowerCase()}` as TapKind;
      description = `${cross ? 'cross' : 'self'}-attention ${proj === 'to_out.0' ? 'output projection' : `${SHORT[proj]} projection`} in ${blockName} attention ${attn}, block ${tb}`;
    }
    const hint =
      kind === 'cross-k' || kind === 'cross-v'
        ? 'prompt tokens × projection width; known after a run'
        : 'tokens = feature-map height × width, channels = block width; known after a run';
    const kindRank = kind === 'res-out' ? 0 : KIND_ORDER.indexOf(kind);
    const key = [blockOrder, Number(level ?? 0), Number(res ?? attn), res !== undefined ? 0 : 1, tb === undefined ? 1e9 : Number(tb), kindRank];
    found.push({ info: { alias, modulePath, kind, study: study.has(alias), description, hint }, key });
  }
  found.sort((a, b) => compareKeys(a.key, b.key));
  return found.map((f) => f.info);
}

function compareKeys(a: number[], b: number[]): number {
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    const d = (a[i] ?? -1) - (b[i] ?? -1);
    if (d !== 0) return d;
  }
  return 0;
}
