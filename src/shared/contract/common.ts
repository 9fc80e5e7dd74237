/**
 * What several contract methods share: images (by content or by path), diffusion
 * and generation settings, the settings the engine resolved, providers, stop reasons.
 */
import { z } from 'zod';
import { PromptSource } from '../manifest.js';

/** An image is sent by content (drag and drop, paste, web mode) or by path (CLI, dialogs). */
export const ImageInput = z.union([z.object({ bytes: z.instanceof(Uint8Array), name: z.string().optional() }), z.object({ path: z.string().min(1) })]);
export type ImageInput = z.infer<typeof ImageInput>;

export const DiffusionSettings = z.object({
  t: z.number().int().min(0).max(999).optional(),
  guidance: z.number().min(-20).max(50).optional(),
  tap: z.string().min(1).optional(),
  promptSource: PromptSource.optional(),
  customPrompt: z.string().max(2000).optional(),
  seed: z
    .number()
    .int()
    .min(0)
    .max(2 ** 32 - 1)
    .optional(),
  ensemble: z.number().int().min(1).max(16).optional(),
});
export type DiffusionSettings = z.infer<typeof DiffusionSettings>;

export const GenerationSettings = z.object({
  maxTokens: z.number().int().min(1).max(4096).optional(),
  /** 0 = greedy. */
  temperature: z.number().min(0).max(5).optional(),
  topP: z.number().gt(0).max(1).optional(),
  sampleSeed: z
    .number()
    .int()
    .min(0)
    .max(2 ** 32 - 1)
    .optional(),
});
export type GenerationSettings = z.infer<typeof GenerationSettings>;

export interface ResolvedDiffusionSettings {
  t: number;
  guidance: number;
  tap: string;
  promptSource: z.infer<typeof PromptSource>;
  prompt: string;
  seed: number;
  ensemble: number;
}

/** Execution providers a user can ask for (the engine falls back to CPU where one is missing). */
export const PROVIDER_CHOICES = ['auto', 'cpu', 'cuda', 'dml', 'coreml', 'webgpu'] as const;
export type ProviderChoiceName = (typeof PROVIDER_CHOICES)[number];

export type StopReason = 'eos' | 'stop-token' | 'max-tokens' | 'cancelled' | 'error';
