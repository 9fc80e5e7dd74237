/**
 * Decoder prompt: the token ids the LLM's prefill sees, with the image
 * placeholder expanded to one position per visual token.
 *
 * Why: a LLaVA-style LLM receives the image as a run of embedding rows spliced
 * into the prompt where the placeholder sits (DESIGN §1 item 6; transformers.js
 * `default_merge_input_ids_with_features`, REFERENCE §A3.2). The chat template
 * writes the placeholder once; the projector produces N visual tokens. So the
 * single placeholder id is repeated N times here, and the positions of those
 * copies are returned so the generator can overwrite their embeddings with the
 * projected visual tokens. Position ids are 0..n-1 (no padding, batch 1).
 *
 * Errors say whose fault they are: a question that itself contains the
 * placeholder is the user's (INVALID_ARGUMENT); a template or tokenizer that
 * loses or duplicates the placeholder is the pack's (PACK_MANIFEST_INVALID).
 */
import { TwinLensError } from '../../shared/errors.js';
import { type ChatTemplate, type ImagePlacement, renderVisualQuestion } from './chat-template.js';
import type { TextTokenizer } from './tokenizer.js';

export interface ExpandedIds {
  /** Ids with each placeholder repeated `visualTokens` times. */
  inputIds: number[];
  /** Index in inputIds of every expanded placeholder copy, ascending. */
  imagePositions: number[];
}

export interface DecoderPrompt extends ExpandedIds {
  /** Position ids 0..n-1, one per input id. */
  positionIds: number[];
  /** The rendered prompt text (before expansion), for logs and the UI's "show prompt". */
  text: string;
  /** Number of ids before expansion. */
  textTokens: number;
}

export interface PromptRequest {
  tokenizer: TextTokenizer;
  template: ChatTemplate;
  question: string;
  /** The placeholder string, e.g. "<image>"; must be a single token. */
  imageToken: string;
  /** Placeholder before (default) or after the question in the user message. */
  imagePlacement?: ImagePlacement;
  /** Number of visual tokens from the projector (rows to splice in). */
  visualTokens: number;
  /** The decoder's context length; the prompt must leave room for one generated token. */
  maxLength?: number;
  /** Optional system message placed before the user turn. */
  system?: string;
}

/**
 * Repeats every occurrence of `placeholderId` `visualTokens` times. Exactly
 * `images` occurrences are required (one per image); anything else throws.
 */
export function expandImagePlaceholder(ids: readonly number[], placeholderId: number, visualTokens: number, images = 1): ExpandedIds {
  if (!Number.isInteger(visualTokens) || visualTokens < 1) {
    throw new TwinLensError('INVALID_ARGUMENT', `The number of visual tokens must be a positive integer, got ${visualTokens}`);
  }
  const found = ids.reduce((n, id) => (id === placeholderId ? n + 1 : n), 0);
  if (found !== images) {
    throw new TwinLensError(
      'INVALID_ARGUMENT',
      found === 0
        ? `The prompt has no image placeholder (token id ${placeholderId}) for the ${images === 1 ? 'image' : `${images} images`}`
        : `The prompt has ${found} image placeholders (token id ${placeholderId}) but ${images} image${images === 1 ? '' : 's'} given`,
    );
  }
  const inputIds: number[] = [];
  const imagePositions: number[] = [];
  for (const id of ids) {
    if (id !== placeholderId) {
      inputIds.push(id);
      continue;
    }
    for (let k = 0; k < visualTokens; k++) {
      imagePositions.push(inputIds.length);
      inputIds.push(placeholderId);
    }
  }
  return { inputIds, imagePositions };
}

/** Position ids 0..n-1 (batch 1, no left padding: cumsum(attention_mask) − 1). */
export function positionIdsFor(length: number, start = 0): number[] {
  return Array.from({ length }, (_, i) => start + i);
}

/** Renders the chat template for the question, tokenizes it and expands the image placeholder. */
export function buildDecoderPrompt(req: PromptRequest): DecoderPrompt {
  const { tokenizer, template, question, imageToken } = req;
  if (!question.trim()) throw new TwinLensError('INVALID_ARGUMENT', 'The question is empty');
  if (question.includes(imageToken)) {
    throw new TwinLensError(
      'INVALID_ARGUMENT',
      `The question must not contain the image placeholder "${imageToken}"`,
      'Remove it; the image is inserted automatically',
    );
  }
  const placeholderId = tokenizer.requireId(imageToken, 'The image placeholder');
  const text = renderVisualQuestion(template, tokenizer, imageToken, question, req.system, req.imagePlacement);
  const ids = tokenizer.encode(text);
  const count = ids.reduce((n, id) => (id === placeholderId ? n + 1 : n), 0);
  if (count !== 1) {
    const where =
      template.origin === 'manifest'
        ? 'pack.json (llm.chatTemplate)'
        : template.origin === 'tokenizer_config'
          ? 'tokenizer_config.json'
          : 'the fallback template';
    throw new TwinLensError(
      'PACK_MANIFEST_INVALID',
      count === 0
        ? `The prompt rendered by the chat template from ${where} has no image placeholder "${imageToken}" (id ${placeholderId}) after tokenization`
        : `The prompt rendered by the chat template from ${where} has ${count} image placeholders "${imageToken}" but one image is given`,
      'The template must write the user message content unchanged, and the placeholder must be a single (added) token',
    );
  }
  const expanded = expandImagePlaceholder(ids, placeholderId, req.visualTokens, 1);
  const n = expanded.inputIds.length;
  if (req.maxLength !== undefined && n + 1 > req.maxLength) {
    throw new TwinLensError(
      'INVALID_ARGUMENT',
      `The prompt needs ${n} tokens (${ids.length - 1} text + ${req.visualTokens} visual) but the LLM's context is ${req.maxLength} tokens`,
      'Shorten the question or use fewer visual tokens',
    );
  }
  return { ...expanded, positionIds: positionIdsFor(n), text, textTokens: ids.length };
}
