/**
 * Packs: `packInfo`/`openPack` (what the open pack serves), `checkPacks` (do
 * these folders still hold packs), `status` (memory, providers), `estimate`
 * (memory before loading) and `composePack` (the importer).
 */
import { z } from 'zod';
import type { CatalogEntry } from '../catalog.js';
import type { ResolvedDiffusionSettings } from './common.js';

/** Memory and UNet-cost estimate of a pack before (or after) loading it (the Models view). */
export const EstimateParams = z.object({
  /** Pack folder; default: the open pack. */
  dir: z.string().min(1).optional(),
  tap: z.string().min(1).optional(),
  /** LLM context length for the KV cache (default: the pack's). */
  maxLength: z.number().int().min(1).max(1_000_000).optional(),
});
export type EstimateParams = z.input<typeof EstimateParams>;

/**
 * Compose a pack from published ONNX export folders (the Models view's composer,
 * same sequence as `twinlens packs import`): folders on the engine's machine.
 */
export const ComposePackParams = z.object({
  sd: z.string().min(1).optional(),
  clip: z.string().min(1).optional(),
  llm: z.string().min(1).optional(),
  projectors: z.string().min(1).optional(),
  /**
   * Trained modes: folders the training export wrote, one per mode (projectors/ + llm/),
   * or a folder holding one such subfolder per mode.
   */
  trained: z.array(z.string().min(1)).max(16).optional(),
  /** Pack folder to create (files are hard-linked into it unless `copy`). */
  out: z.string().min(1),
  name: z.string().min(1).max(200).optional(),
  copy: z.boolean().optional(),
});
export type ComposePackParams = z.input<typeof ComposePackParams>;

export const OpenPackParams = z.object({ dir: z.string().min(1) });

/** `listCatalog`: the exports Models → Get models offers (shared/catalog.ts, or $TWINLENS_CATALOG on the engine's machine). */
export interface CatalogList {
  entries: CatalogEntry[];
  /** Where downloads go (the hub cache) and where composed packs are written. */
  cacheDir: string;
  packsDir: string;
  freeBytes: number;
}

/** `downloadModel`: pull one catalog entry into the hub cache (resumes a partial download; progress events). */
export const DownloadModelParams = z.object({ id: z.string().min(1).max(200) });
export type DownloadModelParams = z.input<typeof DownloadModelParams>;

export interface DownloadModelResult {
  id: string;
  /** The export's folder in the cache snapshot: what composePack takes as sd / clip / llm. */
  folder: string;
  bytes: number;
  /** Bytes fetched by this call (0 when everything was already cached). */
  downloadedBytes: number;
}

/** `checkPacks`: whether each folder still holds a pack that loads (the recent-packs list greys the others). */
export const CheckPacksParams = z.object({ dirs: z.array(z.string().min(1)).max(16) });
export type CheckPacksParams = z.input<typeof CheckPacksParams>;

export interface PackCheck {
  dir: string;
  ok: boolean;
  /** The pack's name when it loads. */
  name?: string;
  /** Why it does not (the error's one line: moved, deleted, pack.json invalid…). */
  reason?: string;
}

export interface CheckPacksResult {
  packs: PackCheck[];
}
export interface ModeInfo {
  id: string;
  label: string;
  description: string;
  inputs: Array<'clip' | 'diffusion'>;
  fusion: 'none' | 'concat' | 'cross-attention';
  extra: boolean;
  available: boolean;
  reason?: string;
}

export interface TapInfo {
  alias: string;
  target: string;
  /** Tensor name when resolved against the UNet graph. */
  tensorName?: string;
  available: boolean;
  reason?: string;
  /** Whether this is one of the study's named layers. */
  study: boolean;
}

export interface PackInfo {
  name: string;
  dir: string;
  description: string;
  imageSize?: number;
  modes: ModeInfo[];
  taps: TapInfo[];
  defaults?: ResolvedDiffusionSettings;
  components: Record<string, { path: string; provider?: string; loaded: boolean }>;
  hasDiffusion: boolean;
  hasClip: boolean;
  hasLlm: boolean;
}

export interface EngineStatus {
  pack?: PackInfo;
  rssBytes: number;
  heapUsedBytes: number;
  peakRssBytes: number;
  providers: Record<string, string>;
  pid: number;
  restarts: number;
}

/** Memory of one pack component, before loading (src/engine/importers/memory-estimate.ts). */
export interface ComponentEstimate {
  label: string;
  path: string;
  weightsBytes: number;
  activationBytes: number;
  kvCacheBytes?: number;
  totalBytes: number;
  notes: string[];
}

/** What a UNet pruned at a tap still computes, against the whole UNet. */
export interface TapCost {
  macsTotal: number;
  macsKept: number;
  nodesTotal: number;
  nodesKept: number;
  /** Bytes of the initializers the kept nodes read. */
  weightBytesKept: number;
  weightBytesTotal: number;
  /** Deepest/finest resolution level any kept node runs at (for the activation estimate). */
  finestKeptLevel: number;
  fraction: number;
  gmacsKept: number;
  gmacsTotal: number;
}

/** `estimate` / `twinlens packs estimate`: memory per component and the tap's UNet cost. */
export interface PackEstimate {
  pack: string;
  imageSize?: number;
  tap?: { alias: string; tensor?: string; cost?: TapCost };
  maxLength?: number;
  components: ComponentEstimate[];
  totalBytes: number;
  freeBytes: number;
  fits: boolean;
  notes: string[];
}

export interface ComposePackResult {
  dir: string;
  name: string;
  usable: boolean;
  /** Validation checks (pack.json, files, sessions), as `twinlens packs validate` prints them. */
  checks: Array<{ check: string; status: 'ok' | 'warn' | 'error'; message: string; code?: string }>;
  /** Answer modes the pack can serve, with the reason any cannot. */
  modes: Array<{ id: string; label: string; available: boolean; reason?: string }>;
  /** What it can serve besides the modes (feature maps, cross-attention, correspondence, CLIP features; `answers` with the reason when there is no mode). */
  capabilities: Array<{ id: string; label: string; available: boolean; reason?: string }>;
  /** The composer's notes (files copied, …); validation warnings are in `checks`. */
  warnings: string[];
}
