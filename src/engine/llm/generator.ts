/**
 * LlmGenerator: answers a question about an image with a LLaVA-style LLM,
 * given the projected visual tokens (DESIGN §1 item 6).
 *
 *   question → chat template → ids, "<image>" expanded to N placeholders
 *   → embed_tokens → rows at the placeholders replaced by the N visual tokens
 *   → decoder prefill (empty KV cache) → next token from the last logits row
 *   → loop: embed that token, decode one position with the cache …
 *   until eos, a stop token / stop string, maxTokens or the context length.
 *
 * Why it looks like this:
 * - The visual tokens come from CLIP, the diffusion UNet or their fusion; the
 *   LLM only sees embedding rows, so every answer mode shares this code and
 *   differs only in `visual`.
 * - Text is streamed as deltas of the decoded whole answer (TextStreamer), so
 *   the UI shows the same text the final answer has.
 * - Cancellation is checked between steps (ONNX Runtime runs cannot be
 *   interrupted). A cancelled answer is not an error: it returns stop
 *   'cancelled' with the text so far, which the UI keeps showing.
 * - Each step replaces the KV cache object; nothing keeps the old one, so its
 *   tensors are collectable while the next step runs.
 */
import type { GenerationSettings, StopReason } from '../../shared/contract.js';
import { TwinLensError } from '../../shared/errors.js';
import type { LlmSection } from '../../shared/manifest.js';
import type { OnnxSession } from '../onnx/session.js';
import { ChatTemplate } from './chat-template.js';
import { type KvCache, LlmIo } from './decoder-io.js';
import { type DecoderPrompt, buildDecoderPrompt } from './prompt.js';
import { TokenSampler } from './sampler.js';
import { TextStreamer } from './streamer.js';
import type { TextTokenizer } from './tokenizer.js';

/** The parts of the manifest's llm section generation needs. */
export type LlmGenerationSection = Pick<LlmSection, 'numLayers' | 'numKvHeads' | 'headDim' | 'maxLength' | 'dtype' | 'imageToken' | 'stopTokens'> & {
  chatTemplate?: string;
  imagePlacement?: LlmSection['imagePlacement'];
};

export interface LlmGeneratorParts {
  embedTokens: OnnxSession;
  decoder: OnnxSession;
  tokenizer: TextTokenizer;
  section: LlmGenerationSection;
  /** Template source overriding section.chatTemplate and tokenizer_config's chat_template. */
  chatTemplate?: string;
  /** When true, dispose() also disposes the two sessions. */
  ownsSessions?: boolean;
}

/** Projected visual tokens, row-major [tokens, hidden]. */
export interface VisualTokens {
  embeds: Float32Array;
  tokens: number;
  hidden: number;
}

export interface GenerationProgress {
  phase: 'prefill' | 'decode';
  /** Tokens generated so far. */
  tokens: number;
  maxTokens: number;
  promptTokens: number;
}

export interface GenerateRequest {
  question: string;
  visual: VisualTokens;
  settings?: GenerationSettings;
  signal?: AbortSignal;
  /**
   * Called once per generated token with the new text (possibly "" while a
   * multi-token character or a possible stop string is pending). A last call
   * with the final token's id may carry text held back until the end.
   */
  onToken?: (text: string, id: number) => void;
  onProgress?: (p: GenerationProgress) => void;
  /** Optional system message before the user turn. */
  system?: string;
}

export interface GenerationResult {
  text: string;
  /** Generated ids, without a terminating eos / stop token. */
  tokenIds: number[];
  stop: StopReason;
  prefillMs: number;
  decodeMs: number;
  /** tokenIds.length. */
  tokens: number;
  /** Prompt length in tokens, visual tokens included. */
  promptTokens: number;
}

export const DEFAULT_GENERATION: Required<GenerationSettings> = { maxTokens: 128, temperature: 0, topP: 1, sampleSeed: 0 };

export class LlmGenerator {
  readonly io: LlmIo;
  readonly template: ChatTemplate;
  readonly tokenizer: TextTokenizer;
  readonly section: LlmGenerationSection;
  /** Ids that end generation with stop 'eos'. */
  readonly eosIds: ReadonlySet<number>;
  /** Ids of single-token stop tokens (stop 'stop-token'). */
  readonly stopIds: ReadonlySet<number>;
  /** Stop tokens that are not single tokens, matched in the decoded text. */
  readonly stopStrings: readonly string[];
  private disposed = false;

  constructor(private readonly parts: LlmGeneratorParts) {
    this.tokenizer = parts.tokenizer;
    this.section = parts.section;
    this.io = new LlmIo(parts.embedTokens, parts.decoder, parts.section);
    this.template = ChatTemplate.resolve(parts.chatTemplate ?? parts.section.chatTemplate, parts.tokenizer);
    parts.tokenizer.requireId(parts.section.imageToken, 'The image placeholder (llm.imageToken)');
    const eos = parts.tokenizer.eosId;
    this.eosIds = new Set(eos === undefined ? [] : [eos]);
    const stopIds = new Set<number>();
    const stopStrings: string[] = [];
    for (const stop of parts.section.stopTokens ?? []) {
      const id = parts.tokenizer.idOf(stop);
      if (id !== undefined) {
        if (!this.eosIds.has(id)) stopIds.add(id);
      } else if (stop.length) stopStrings.push(stop);
    }
    this.stopIds = stopIds;
    this.stopStrings = stopStrings;
  }

  /** The prompt for a question with `visualTokens` image positions (also used for "show prompt"). */
  prompt(question: string, visualTokens: number, system?: string): DecoderPrompt {
    return buildDecoderPrompt({
      tokenizer: this.tokenizer,
      template: this.template,
      question,
      imageToken: this.section.imageToken,
      imagePlacement: this.section.imagePlacement,
      visualTokens,
      maxLength: this.section.maxLength,
      system,
    });
  }

  async generate(req: GenerateRequest): Promise<GenerationResult> {
    if (this.disposed) throw new TwinLensError('ENGINE_DISPOSED', 'The LLM generator was disposed');
    const settings = { ...DEFAULT_GENERATION, ...stripUndefined(req.settings) };
    if (!Number.isInteger(settings.maxTokens) || settings.maxTokens < 1) {
      throw new TwinLensError('INVALID_ARGUMENT', `maxTokens must be a positive integer, got ${settings.maxTokens}`);
    }
    const sampler = new TokenSampler({ temperature: settings.temperature, topP: settings.topP, seed: settings.sampleSeed });
    const visual = this.checkVisual(req.visual);
    const prompt = this.prompt(req.question, visual.tokens, req.system);
    const promptTokens = prompt.inputIds.length;
    const streamer = new TextStreamer(this.tokenizer, this.stopStrings);
    const ids: number[] = [];
    const t0 = performance.now();
    let prefillEnd: number | undefined = undefined;
    const finish = (stop: StopReason): GenerationResult => {
      const end = performance.now();
      const rest = streamer.flush();
      if (rest && req.onToken) req.onToken(rest, ids[ids.length - 1] ?? -1);
      const prefillMs = (prefillEnd ?? end) - t0;
      const decodeMs = prefillEnd === undefined ? 0 : end - prefillEnd;
      return { text: streamer.text, tokenIds: ids, stop, prefillMs, decodeMs, tokens: ids.length, promptTokens };
    };
    if (req.signal?.aborted) return finish('cancelled');

    // Prefill: embed the prompt, splice in the visual tokens, run with an empty cache.
    req.onProgress?.({ phase: 'prefill', tokens: 0, maxTokens: settings.maxTokens, promptTokens });
    const embedIds = prompt.inputIds.slice();
    for (const p of prompt.imagePositions) embedIds[p] = 0; // rows are replaced; some exports' tables lack the placeholder id
    const embedded = await this.io.embed(embedIds);
    if (embedded.hidden !== visual.hidden) {
      throw new TwinLensError(
        'ONNX_IO_MISMATCH',
        `The visual tokens have hidden size ${visual.hidden} but the LLM's embeddings have ${embedded.hidden}`,
        'The projector does not match this LLM: it must output the LLM hidden size',
      );
    }
    const H = embedded.hidden;
    prompt.imagePositions.forEach((p, k) => embedded.data.set(visual.embeds.subarray(k * H, (k + 1) * H), p * H));
    let step = await this.io.step(embedded.data, promptTokens, H, this.io.emptyCache());
    let cache: KvCache = step.cache;
    let next = sampler.pick(step.logits);
    prefillEnd = performance.now();
    if (req.signal?.aborted) return finish('cancelled');

    for (;;) {
      if (this.eosIds.has(next)) return finish('eos');
      if (this.stopIds.has(next)) return finish('stop-token');
      ids.push(next);
      const { delta, stopped } = streamer.push(next);
      req.onToken?.(delta, next);
      req.onProgress?.({ phase: 'decode', tokens: ids.length, maxTokens: settings.maxTokens, promptTokens });
      if (stopped) return finish('stop-token');
      if (ids.length >= settings.maxTokens || promptTokens + ids.length >= this.section.maxLength) return finish('max-tokens');
      if (req.signal?.aborted) return finish('cancelled');
      const e = await this.io.embed([next]);
      step = await this.io.step(e.data, 1, e.hidden, cache);
      cache = step.cache; // the previous cache is no longer referenced
      next = sampler.pick(step.logits);
      if (req.signal?.aborted) return finish('cancelled');
    }
  }

  private checkVisual(v: VisualTokens): VisualTokens {
    if (!Number.isInteger(v.tokens) || v.tokens < 1 || !Number.isInteger(v.hidden) || v.hidden < 1) {
      throw new TwinLensError('INVALID_ARGUMENT', `Visual tokens need positive integer tokens and hidden, got ${v.tokens} × ${v.hidden}`);
    }
    if (v.embeds.length !== v.tokens * v.hidden) {
      throw new TwinLensError(
        'INVALID_ARGUMENT',
        `Visual embeddings have ${v.embeds.length} values, expected ${v.tokens} × ${v.hidden} = ${v.tokens * v.hidden}`,
      );
    }
    const H = this.io.hiddenSize;
    if (H !== undefined && H !== v.hidden) {
      throw new TwinLensError(
        'ONNX_IO_MISMATCH',
        `The visual tokens have hidden size ${v.hidden} but the LLM's embeddings have ${H}`,
        'The projector does not match this LLM: it must output the LLM hidden size',
      );
    }
    return v;
  }

  /** Releases the sessions when the generator owns them; the generator cannot be used afterwards. */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    if (this.parts.ownsSessions) {
      this.parts.embedTokens.dispose();
      this.parts.decoder.dispose();
    }
  }
}

function stripUndefined<T extends object>(o: T | undefined): Partial<T> {
  const out: Partial<T> = {};
  if (!o) return out;
  for (const [k, v] of Object.entries(o)) if (v !== undefined) (out as Record<string, unknown>)[k] = v;
  return out;
}
