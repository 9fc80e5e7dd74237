/**
 * The workbench contract: every method the UI, the CLI and the web server can
 * call on the engine, with zod schemas for the arguments (parsed at every
 * process boundary) and plain types for the results. Tensors travel as typed
 * arrays (structured clone), never as JSON numbers.
 */
import { z } from 'zod';
import { PromptSource } from './manifest.js';
import type { SerializedError } from './errors.js';

/** An image is sent by content (drag and drop, paste, web mode) or by path (CLI, dialogs). */
export const ImageInput = z.union([
  z.object({ bytes: z.instanceof(Uint8Array), name: z.string().optional() }),
  z.object({ path: z.string().min(1) }),
]);
export type ImageInput = z.infer<typeof ImageInput>;

export const DiffusionSettings = z.object({
  t: z.number().int().min(0).max(999).optional(),
  guidance: z.number().min(-20).max(50).optional(),
  tap: z.string().min(1).optional(),
  promptSource: PromptSource.optional(),
  customPrompt: z.string().max(2000).optional(),
  seed: z.number().int().min(0).max(2 ** 32 - 1).optional(),
  ensemble: z.number().int().min(1).max(16).optional(),
});
export type DiffusionSettings = z.infer<typeof DiffusionSettings>;

export const GenerationSettings = z.object({
  maxTokens: z.number().int().min(1).max(4096).optional(),
  /** 0 = greedy. */
  temperature: z.number().min(0).max(5).optional(),
  topP: z.number().gt(0).max(1).optional(),
  sampleSeed: z.number().int().min(0).max(2 ** 32 - 1).optional(),
});
export type GenerationSettings = z.infer<typeof GenerationSettings>;

export const AskParams = z.object({
  image: ImageInput,
  question: z.string().min(1).max(4000),
  /** Mode ids, or 'all' = every available non-extra mode. */
  modes: z.union([z.literal('all'), z.array(z.string().min(1)).min(1)]).default('all'),
  diffusion: DiffusionSettings.default({}),
  generation: GenerationSettings.default({}),
});
export type AskParams = z.input<typeof AskParams>;
export type AskParamsParsed = z.infer<typeof AskParams>;

export const FeaturesParams = z.object({
  image: ImageInput,
  /** The SD prompt (normally the question); empty = unconditional. */
  prompt: z.string().max(4000).default(''),
  taps: z.array(z.string().min(1)).default([]),
  diffusion: DiffusionSettings.default({}),
  /** Also return per-token cross-attention maps (averaged over heads and layers). */
  crossAttention: z.boolean().default(false),
  /** Restrict cross-attention averaging to tensors whose name contains one of these. */
  crossAttentionLayers: z.array(z.string()).optional(),
  /** Also return CLIP patch features. */
  clip: z.boolean().default(false),
  /** Return conditional and unconditional maps separately too. */
  keepBranches: z.boolean().default(false),
});
export type FeaturesParams = z.input<typeof FeaturesParams>;
export type FeaturesParamsParsed = z.infer<typeof FeaturesParams>;

/** Panels the Features view can ask for (see VisualizeParams). */
export const VisualPanelKind = z.enum(['image', 'pca', 'branches', 'difference', 'norm', 'channels', 'attention', 'clip', 'correspondence']);
export type VisualPanelKind = z.infer<typeof VisualPanelKind>;

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
      tensors: z.array(z.enum(['npy', 'safetensors'])).default([]),
      panels: z.boolean().default(false),
      sheet: z.enum(['none', 'layers-timesteps', 'pair']).default('none'),
      /** Columns of a layers × timesteps sheet (default 10, 50, 250). */
      timesteps: z.array(z.number().int().min(0).max(999)).max(8).optional(),
    })
    .optional(),
});
export type VisualizeParams = z.input<typeof VisualizeParams>;
export type VisualizeParamsParsed = z.infer<typeof VisualizeParams>;

/**
 * Run a benchmark suite over answer modes inside the engine process (the
 * Eval view): the runner of src/engine/eval with the engine's own ask.
 * Streams 'progress' and 'eval-progress' events; a cancel stops after the
 * current item and still returns the partial summary (complete: false).
 */
export const EvaluateParams = z.object({
  /** A built-in suite name of the open pack (<pack>/suites/NAME.jsonl|csv) or a path on the engine's machine. */
  suite: z.string().min(1).max(4000),
  modes: z.union([z.literal('all'), z.array(z.string().min(1)).min(1)]).default('all'),
  diffusion: DiffusionSettings.default({}),
  generation: GenerationSettings.default({}),
  /** One setting over several values, as the CLI's --sweep: "t=10,50,250", "guidance=0,1,4", "tap=A,B". */
  sweep: z.string().min(3).max(2000).optional(),
  /** Only the first N items. */
  limit: z.number().int().min(1).optional(),
  /** MMVP suites: the image folder (default beside the CSV). */
  imagesDir: z.string().min(1).optional(),
  /** Thumbnails (PNG bytes) of the images of items where the modes disagree, at most this many. */
  thumbnails: z.number().int().min(0).max(200).default(48),
});
export type EvaluateParams = z.input<typeof EvaluateParams>;
export type EvaluateParamsParsed = z.infer<typeof EvaluateParams>;

/**
 * The prompt-leakage probe inside the engine process (the Eval view's
 * "Leakage probe"): runLeakage + leakageReport of src/engine/eval with the
 * engine's own ask, as `twinlens leakage`. Streams 'progress' and
 * 'eval-progress' events (running: {}); a cancel stops after the current
 * ask and returns the report over the items finished (complete: false).
 */
export const LeakageParams = z.object({
  /** A built-in suite name of the open pack or a path on the engine's machine. */
  suite: z.string().min(1).max(4000),
  /** Modes to probe; default: every available mode that reads diffusion features, extras included. */
  modes: z.array(z.string().min(1)).min(1).optional(),
  /** Guidance scales s to probe. */
  guidance: z.array(z.number().min(-20).max(50)).min(1).max(16).default([1, 1.5, 4]),
  /** qa: ask the item's question, prompts = questions; caption: ask for a caption, prompts = captions. */
  task: z.enum(['qa', 'caption']).default('qa'),
  diffusion: DiffusionSettings.optional(),
  generation: GenerationSettings.optional(),
  /** Only the first N items (at least two: the mismatched prompt comes from another item). */
  limit: z.number().int().min(2).optional(),
  /** MMVP suites: the image folder (default beside the CSV). */
  imagesDir: z.string().min(1).optional(),
});
export type LeakageParams = z.input<typeof LeakageParams>;
export type LeakageParamsParsed = z.infer<typeof LeakageParams>;

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
export const CancelParams = z.object({ requestId: z.string().min(1) });

/** A feature map as tokens × channels on a height × width grid (row-major tokens). */
export interface FeatureMap {
  alias: string;
  tensorName: string;
  height: number;
  width: number;
  channels: number;
  /** [height·width, channels], float32. */
  data: Float32Array;
}

export interface TapFeatures extends FeatureMap {
  /** Present when keepBranches: f_c and f_u before guidance. */
  cond?: Float32Array;
  uncond?: Float32Array;
}

export interface CrossAttentionMaps {
  /** The prompt's tokens as the text encoder saw them (special tokens included). */
  tokens: string[];
  height: number;
  width: number;
  /** [tokens, height·width], averaged over heads and the chosen layers, conditional pass. */
  maps: Float32Array;
  layers: string[];
}

export interface ResolvedDiffusionSettings {
  t: number;
  guidance: number;
  tap: string;
  promptSource: z.infer<typeof PromptSource>;
  prompt: string;
  seed: number;
  ensemble: number;
}

export interface FeaturesResult {
  imageHash: string;
  settings: ResolvedDiffusionSettings;
  taps: TapFeatures[];
  crossAttention?: CrossAttentionMaps;
  clip?: FeatureMap;
  ms: number;
}

export interface VisualPanel {
  /** Unique within the result, file-name-safe. */
  id: string;
  kind: VisualPanelKind;
  source: 'image' | 'diffusion' | 'clip';
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

/** Execution providers a user can ask for (the engine falls back to CPU where one is missing). */
export const PROVIDER_CHOICES = ['auto', 'cpu', 'cuda', 'dml', 'coreml', 'webgpu'] as const;
export type ProviderChoiceName = (typeof PROVIDER_CHOICES)[number];

export type StopReason = 'eos' | 'stop-token' | 'max-tokens' | 'cancelled' | 'error';

export interface ModeAnswer {
  mode: string;
  text: string;
  tokens: number;
  /** Wall time of the mode: encoders, projector, prefill and decoding. */
  ms: number;
  /** The LLM's prompt pass (visual tokens included), and the decoding of tokens 2…n after it. */
  prefillMs?: number;
  decodeMs?: number;
  stop: StopReason;
  error?: SerializedError;
}

export interface AskResult {
  imageHash: string;
  question: string;
  answers: Record<string, ModeAnswer>;
  settings: ResolvedDiffusionSettings & Required<Omit<GenerationSettings, 'sampleSeed'>> & { sampleSeed: number };
  providers: Record<string, string>;
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

/** Accuracy of k right out of n with its 95 % Wilson interval (src/engine/eval/stats.ts). */
export interface EvalScore {
  n: number;
  correct: number;
  accuracy: number;
  ci95: [number, number];
}

export interface EvalModeScore extends EvalScore {
  errors: number;
  pairs?: EvalScore;
  categories: Record<string, EvalScore>;
  by?: Record<string, Record<string, EvalScore>>;
}

export interface EvalSettingScore {
  /** "default", or the sweep label such as "t=50". */
  setting: string;
  modes: Record<string, EvalModeScore>;
  timing: Record<string, { meanMs: number; meanTokens: number }>;
}

export interface EvalItemAnswer {
  text: string;
  correct: boolean;
  rule: string;
  chosen?: number;
  ms: number;
  tokens: number;
  stop: StopReason;
  error?: string;
  reused?: boolean;
}

export interface EvalItemResult {
  setting: string;
  id: string;
  index: number;
  question: string;
  answer: string;
  options?: Array<{ letter: string; text: string }>;
  pair?: string;
  category?: string;
  tags?: Record<string, string>;
  /** Relative to the suite file. */
  image: string;
  imageHash: string;
  answers: Record<string, EvalItemAnswer>;
  used?: { t: number; guidance: number; tap: string; promptSource: string; seed: number; ensemble: number };
}

/** The `twinlens eval --json` document (src/engine/eval/summary.ts). */
export interface EvalSummaryDoc {
  format: 'twinlens-eval';
  version: 1;
  suite: { name: string; format: string; hash: string; items: number };
  pack: { name: string; hash: string };
  modes: string[];
  diffusion: DiffusionSettings;
  generation: GenerationSettings;
  sweep?: { key: string; values: Array<string | number> };
  limit?: number;
  evaluated: number;
  complete: boolean;
  missing: number;
  shards?: number[];
  created?: string;
  results: EvalSettingScore[];
  items?: EvalItemResult[];
}

export interface EvaluateResult {
  summary: EvalSummaryDoc;
  /** False when stopped before every item × setting was run. */
  complete: boolean;
  /** Item image path (as in items[].image) → PNG thumbnail, for items where the modes disagree. */
  thumbnails: Record<string, Uint8Array>;
  warnings: string[];
  ms: number;
}

/** Scores of one condition of the leakage probe against the item's reference. */
export interface LeakageConditionScore {
  accuracy: EvalScore;
  f1: number;
  cider: number;
}

/** One mode at one guidance s (src/engine/eval/leakage-report.ts). */
export interface LeakageCellView {
  matched: LeakageConditionScore;
  empty: LeakageConditionScore;
  mismatched: LeakageConditionScore;
  /** matched − empty. */
  gap: { accuracy: number; f1: number; cider: number };
  /** The mismatched output against the mismatched prompt; control = the empty-prompt output against it; excess = leakage − control. */
  leakage: { cider: number; f1: number; controlCider: number; controlF1: number; excessCider: number; excessF1: number };
  towardPartnerAnswer: { cider: number; f1: number; rate: number };
  errors: number;
}

/** The `twinlens leakage --json` document (structurally the engine's LeakageReport). */
export interface LeakageReportDoc {
  format: 'twinlens-leakage';
  version: 1;
  suite: { name: string; hash: string; items: number };
  pack: { name: string; hash: string };
  modes: string[];
  guidance: number[];
  task: 'qa' | 'caption';
  mismatchFrom?: 'question' | 'answer';
  captionQuestion?: string;
  /** Items probed (all three conditions done). */
  evaluated: number;
  complete: boolean;
  metric: string;
  rows: Array<{ guidance: number; modes: Record<string, LeakageCellView> }>;
  items?: Array<{
    id: string;
    question: string;
    answer: string;
    options?: Array<{ letter: string; text: string }>;
    prompt: string;
    partner: string;
    mismatchedPrompt: string;
    partnerAnswer: string;
    outputs: Record<string, { matched: Record<string, string>; empty: string; mismatched: Record<string, string>; errors?: string[] }>;
  }>;
}

export interface SuiteList {
  /** Built-in suites of the open pack (<pack>/suites/). */
  builtIn: Array<{ name: string; path: string }>;
  dir?: string;
}

export interface PackEstimateView {
  pack: string;
  imageSize?: number;
  tap?: { alias: string; tensor?: string; cost?: { fraction: number; gmacsKept: number; gmacsTotal: number } };
  maxLength?: number;
  components: Array<{ label: string; path: string; weightsBytes: number; activationBytes: number; kvCacheBytes?: number; totalBytes: number; notes: string[] }>;
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

/** Events a long request emits before its result. */
export type EngineEvent =
  | { type: 'progress'; stage: string; done: number; total: number; message?: string }
  | { type: 'token'; mode: string; text: string; tokenId: number }
  | { type: 'mode-start'; mode: string }
  | { type: 'mode-done'; mode: string; answer: ModeAnswer }
  /** evaluate: after each item × setting (running accuracy per mode over the finished ones); leakage: after each ask (running: {}). */
  | { type: 'eval-progress'; done: number; total: number; elapsedMs: number; etaMs?: number; item?: string; setting?: string; running: Record<string, { correct: number; n: number }> };

/** Method name → params schema. The preload, IPC broker and HTTP server are generated from this. */
export const CONTRACT = {
  packInfo: z.object({}).default({}),
  openPack: OpenPackParams,
  ask: AskParams,
  features: FeaturesParams,
  status: z.object({}).default({}),
  visualize: VisualizeParams,
  evaluate: EvaluateParams,
  listSuites: z.object({}).default({}),
  estimate: EstimateParams,
  leakage: LeakageParams,
  composePack: ComposePackParams,
} as const;

export type ContractMethod = keyof typeof CONTRACT;
export const CONTRACT_METHODS = Object.keys(CONTRACT) as ContractMethod[];

export interface ContractResults {
  packInfo: PackInfo;
  openPack: PackInfo;
  ask: AskResult;
  features: FeaturesResult;
  status: EngineStatus;
  visualize: VisualizeResult;
  evaluate: EvaluateResult;
  listSuites: SuiteList;
  estimate: PackEstimateView;
  leakage: LeakageReportDoc;
  composePack: ComposePackResult;
}

export type ContractParams = { [K in ContractMethod]: z.input<(typeof CONTRACT)[K]> };
