/**
 * `ask` (one question, answers per mode, streamed token by token) and `features`
 * (tap feature maps, cross-attention, CLIP features of one image).
 */
import { z } from 'zod';
import type { SerializedError } from '../errors.js';
import { DiffusionSettings, GenerationSettings, ImageInput, type ResolvedDiffusionSettings, type StopReason } from './common.js';

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

export interface FeaturesResult {
  imageHash: string;
  settings: ResolvedDiffusionSettings;
  taps: TapFeatures[];
  crossAttention?: CrossAttentionMaps;
  clip?: FeatureMap;
  ms: number;
}

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
