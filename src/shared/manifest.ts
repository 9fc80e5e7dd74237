/**
 * The model-pack manifest (`pack.json`), format version 1.
 *
 * One contract for the built-in mini-world pack, the test fixtures and packs
 * assembled from public ONNX exports. Every path is relative to the pack
 * folder and must stay inside it (the engine checks this after resolving
 * symlinks). A part that is absent makes the answer modes that need it
 * unavailable, never the whole pack.
 */
import { z } from 'zod';

export const PACK_FORMAT = 'twinlens-pack';
export const PACK_FORMAT_VERSION = 1;

const relPath = z.string().min(1).describe('path relative to the pack folder');

/** One ONNX file (external data next to it is found by ONNX Runtime). */
export const OnnxRef = z.object({
  path: relPath,
  sha256: z
    .string()
    .regex(/^[0-9a-f]{64}$/)
    .optional(),
});
export type OnnxRef = z.infer<typeof OnnxRef>;

export const PromptSource = z.enum(['question', 'empty', 'custom']);
export type PromptSource = z.infer<typeof PromptSource>;

export const DiffusionDefaults = z.object({
  t: z.number().int().min(0).default(50),
  guidance: z.number().default(4),
  tap: z.string().default('U-L1-R1-B0-Cross-Q'),
  prompt: PromptSource.default('question'),
  seed: z.number().int().min(0).default(0),
  ensemble: z.number().int().min(1).max(16).default(1),
});
export type DiffusionDefaults = z.infer<typeof DiffusionDefaults>;

export const DiffusionSection = z.object({
  /**
   * The UNet family, as the importer detected it (shown to the user). Tap aliases resolve by
   * one grammar for every family (src/engine/graph/tap-alias.ts): the families share module names.
   */
  family: z.enum(['sd1', 'sd2', 'mini-world']).default('sd2'),
  vaeEncoder: OnnxRef,
  /** VAE output name; diffusers/Optimum exports call it latent_sample. */
  vaeOutput: z.string().default('latent_sample'),
  textEncoder: OnnxRef.extend({
    maxLength: z.number().int().min(1).default(77),
    output: z.string().default('last_hidden_state'),
  }),
  /** tokenizer.json (Hugging Face tokenizers format) of the text encoder. */
  tokenizer: relPath,
  /** Pad id used to fill the prompt up to maxLength. */
  padTokenId: z.number().int().min(0),
  unet: OnnxRef,
  unetOutput: z.string().default('out_sample'),
  /** diffusers scheduler_config.json: beta_start, beta_end, beta_schedule, num_train_timesteps. */
  scheduler: relPath,
  latentScale: z.number().positive().default(0.18215),
  /** Square input size of the VAE in pixels. */
  imageSize: z.number().int().min(8),
  /** Alias → module path or tensor name; beats the alias grammar (src/engine/graph/tap-resolve.ts). */
  taps: z.record(z.string(), z.string()).default({}),
  /** Regex over tensor names selecting cross-attention probabilities [b·heads, HW, tokens]. */
  crossAttention: z.object({ pattern: z.string().default('attn2/Softmax_output_0$') }).default({ pattern: 'attn2/Softmax_output_0$' }),
  defaults: DiffusionDefaults.default(DiffusionDefaults.parse({})),
});
export type DiffusionSection = z.infer<typeof DiffusionSection>;

export const ClipSection = z.object({
  vision: OnnxRef,
  /** transformers preprocessor_config.json (size, crop_size, image_mean, image_std, rescale_factor). */
  preprocessor: relPath,
  /**
   * Which hidden state feeds the LLM: 'last' = last_hidden_state output,
   * 'penultimate' = output of encoder layer N-2 (LLaVA-1.5), or an explicit
   * tensor name. Needs numLayers for 'penultimate'.
   */
  layer: z.union([z.literal('last'), z.literal('penultimate'), z.string().min(1)]).default('penultimate'),
  numLayers: z.number().int().min(1).optional(),
  dropCls: z.boolean().default(true),
});
export type ClipSection = z.infer<typeof ClipSection>;

export const LlmParts = z.object({
  embedTokens: OnnxRef,
  decoder: OnnxRef,
});

export const LlmSection = LlmParts.extend({
  tokenizer: relPath,
  /** tokenizer_config.json; its chat_template is used unless chatTemplate is given. */
  tokenizerConfig: relPath.optional(),
  chatTemplate: z.string().optional(),
  /** The placeholder in the user message, expanded to one token per visual token. */
  imageToken: z.string().default('<image>'),
  /**
   * Where the placeholder sits in the user message: before the question (LLaVA's
   * "<image>\n<question>") or after it ("<question>\n<image>"), where the visual
   * tokens can attend to the question words; must match how the pack was trained.
   */
  imagePlacement: z.enum(['before-question', 'after-question']).default('before-question'),
  stopTokens: z.array(z.string()).default([]),
  numLayers: z.number().int().min(1),
  numKvHeads: z.number().int().min(1),
  headDim: z.number().int().min(1),
  maxLength: z.number().int().min(8).default(2048),
  /** dtype of the KV cache and inputs_embeds the decoder expects. */
  dtype: z.enum(['float32', 'float16']).default('float32'),
});
export type LlmSection = z.infer<typeof LlmSection>;

export const ModeSection = z.object({
  label: z.string().optional(),
  description: z.string().optional(),
  /** Which encoders feed this mode. */
  inputs: z.array(z.enum(['clip', 'diffusion'])).min(1),
  /**
   * none: one projector over one encoder; concat: one projector per encoder,
   * tokens concatenated (CLIP then diffusion); cross-attention: one
   * cross-attention projector ONNX (`xattn`) taking clip_features and
   * diffusion_features.
   */
  fusion: z.enum(['none', 'concat', 'cross-attention']).default('none'),
  /**
   * Projector ONNX files by what they read: `clip`, `diffusion`, or `xattn` (both,
   * cross-attention). Packs written before v0.x named `xattn` "fused", the same word
   * as the concat mode; that key is still read and becomes `xattn`.
   */
  projectors: z
    .object({
      clip: OnnxRef.optional(),
      diffusion: OnnxRef.optional(),
      xattn: OnnxRef.optional(),
      /** @deprecated read as `xattn`. */
      fused: OnnxRef.optional(),
    })
    .transform(({ fused, ...p }) => (fused && !p.xattn ? { ...p, xattn: fused } : p)),
  /** Per-mode LLM weights (stage 2 tunes the LLM per mode); defaults to llm. */
  llm: LlmParts.partial().optional(),
  /** Per-mode diffusion settings the projector was trained with. */
  diffusion: DiffusionDefaults.partial().optional(),
  /**
   * The diffusion tap's k×k blocks of cells become one token each (space-to-depth, channels in
   * (dy, dx, c) order) before the projector: a finer tap read as few tokens (src/engine/fusion/fold-tokens.ts).
   */
  diffusionFold: z.number().int().min(1).max(8).default(1),
  /** Extra modes (e.g. a leakage-control variant) are listed but not in "all". */
  extra: z.boolean().default(false),
});
export type ModeSection = z.infer<typeof ModeSection>;

export const PackManifest = z.object({
  format: z.literal(PACK_FORMAT),
  version: z.literal(PACK_FORMAT_VERSION),
  name: z.string().min(1),
  description: z.string().default(''),
  diffusion: DiffusionSection.optional(),
  clip: ClipSection.optional(),
  llm: LlmSection.optional(),
  modes: z.record(z.string().regex(/^[a-z][a-z0-9-]*$/), ModeSection).default({}),
});
export type PackManifest = z.infer<typeof PackManifest>;
export type PackManifestInput = z.input<typeof PackManifest>;

/** Every ONNX reference in a manifest with a label, for validation and hashing. */
export function listOnnxRefs(m: PackManifest): Array<{ label: string; ref: OnnxRef }> {
  const out: Array<{ label: string; ref: OnnxRef }> = [];
  if (m.diffusion) {
    out.push({ label: 'diffusion.vaeEncoder', ref: m.diffusion.vaeEncoder });
    out.push({ label: 'diffusion.textEncoder', ref: m.diffusion.textEncoder });
    out.push({ label: 'diffusion.unet', ref: m.diffusion.unet });
  }
  if (m.clip) out.push({ label: 'clip.vision', ref: m.clip.vision });
  if (m.llm) {
    out.push({ label: 'llm.embedTokens', ref: m.llm.embedTokens });
    out.push({ label: 'llm.decoder', ref: m.llm.decoder });
  }
  for (const [id, mode] of Object.entries(m.modes)) {
    for (const [k, ref] of Object.entries(mode.projectors)) if (ref) out.push({ label: `modes.${id}.projectors.${k}`, ref });
    if (mode.llm?.embedTokens) out.push({ label: `modes.${id}.llm.embedTokens`, ref: mode.llm.embedTokens });
    if (mode.llm?.decoder) out.push({ label: `modes.${id}.llm.decoder`, ref: mode.llm.decoder });
  }
  return out;
}
