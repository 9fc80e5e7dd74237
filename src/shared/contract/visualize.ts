/**
 * `visualize`: feature maps rendered in the engine as panels (and export files).
 */
import { z } from 'zod';
import { TENSOR_FORMATS } from '../export-formats.js';
import { DiffusionSettings, ImageInput, type ResolvedDiffusionSettings } from './common.js';

/** The kinds of panel the engine renders (VisualPanel.kind). */
export const RenderedPanelKind = z.enum(['image', 'pca', 'difference', 'norm', 'channels', 'attention', 'correspondence']);
export type RenderedPanelKind = z.infer<typeof RenderedPanelKind>;

/**
 * Panels the Features view can ask for (VisualizeParams.panels): every rendered kind, plus two
 * requests that render as 'pca' panels — 'branches' (the conditional and unconditional maps
 * apart) and 'clip' (CLIP's patch tokens).
 */
export const VisualPanelKind = z.enum([...RenderedPanelKind.options, 'branches', 'clip']);
export type VisualPanelKind = z.infer<typeof VisualPanelKind>;

/** Where a panel's values come from. */
export type PanelSource = 'image' | 'diffusion' | 'clip';

/**
 * Feature maps rendered in the engine (PCA → RGB, cond/uncond/difference,
 * norm, strongest channels, cross-attention per word, CLIP, correspondence),
 * for one image or a pair (PCA fitted jointly, intra-pair similarity).
 * Optionally also the files to export (tensors with sidecars, sheets) as bytes.
 */
export const VisualizeParams = z.object({
  images: z.array(ImageInput).min(1).max(2),
  /** The SD prompt (normally the question); empty = unconditional. */
  prompt: z.string().max(4000).default(''),
  taps: z.array(z.string().min(1)).default([]),
  diffusion: DiffusionSettings.default({}),
  panels: z.array(VisualPanelKind).default(['image', 'pca', 'difference', 'attention', 'clip']),
  /** Panel size in pixels. */
  size: z.number().int().min(16).max(1024).default(256),
  /** Correspondence: a point in image 0 (its pixel coordinates); matched in image 1, or in image 0 when alone. */
  point: z.object({ x: z.number(), y: z.number() }).optional(),
  /** Strongest channels shown by 'channels'. */
  channels: z.number().int().min(1).max(64).default(9),
  channelRanking: z.enum(['variance', 'mean']).default('variance'),
  /** Token indices for 'attention' (default: the prompt's words). */
  tokens: z.array(z.number().int().min(0)).optional(),
  crossAttentionLayers: z.array(z.string()).optional(),
  /** Files to return for download: tensors with JSON sidecars, and a figure sheet (PNG + SVG). */
  files: z
    .object({
      tensors: z.array(z.enum(TENSOR_FORMATS)).default([]),
      panels: z.boolean().default(false),
      sheet: z.enum(['none', 'layers-timesteps', 'pair']).default('none'),
      /** Columns of a layers × timesteps sheet (default 10, 50, 250). */
      timesteps: z.array(z.number().int().min(0).max(999)).max(8).optional(),
    })
    .optional(),
});
export type VisualizeParams = z.input<typeof VisualizeParams>;
export type VisualizeParamsParsed = z.infer<typeof VisualizeParams>;

export interface VisualPanel {
  /** Unique within the result, file-name-safe. */
  id: string;
  kind: RenderedPanelKind;
  source: PanelSource;
  /** Which input image (0 or 1). */
  image: number;
  tap?: string;
  label: string;
  width: number;
  height: number;
  png: Uint8Array;
  /** The token grid under the picture, and per token `values.length / (H·W)` values named by valueNames (hover). */
  grid?: { height: number; width: number };
  values?: Float32Array;
  valueNames?: string[];
  meta?: Record<string, unknown>;
}

export interface VisualMatch {
  /** 'clip' or a tap alias. */
  source: string;
  /** The best-matching token in the target image and its centre in that image's pixel coordinates. */
  image: number;
  row: number;
  col: number;
  x: number;
  y: number;
  score: number;
}

export interface VisualFile {
  /** Relative path, e.g. "sample/U-L1-R1-B0-Cross-Q_t50_s4.safetensors". */
  name: string;
  mime: string;
  bytes: Uint8Array;
}

export interface VisualizeResult {
  imageHashes: string[];
  settings: ResolvedDiffusionSettings;
  panels: VisualPanel[];
  /** Two images: intra-pair cosine similarity per encoder ('clip', tap aliases). */
  similarity?: Record<string, { tokenwise: number; pooled: number }>;
  correspondence?: VisualMatch[];
  files?: VisualFile[];
  ms: number;
}
