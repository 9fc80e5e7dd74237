/**
 * ChatTemplate: turns the user's question into the exact prompt text the LLM
 * was tuned on, by rendering the model's Jinja chat template.
 *
 * Why this matters: a LLaVA-style model answers well only when the prompt
 * matches its instruction-tuning format (roles, separators, where the image
 * placeholder sits, whether a BOS token starts the text). The format lives in
 * the model's chat template, so we render that template rather than
 * hand-writing prompts per model.
 *
 * Where the template comes from, first match wins:
 * 1. the pack manifest's `llm.chatTemplate` (lets a pack fix or override it);
 * 2. `chat_template` in tokenizer_config.json (how Hugging Face ships it);
 * 3. FALLBACK_CHAT_TEMPLATE below: the LLaVA-1.5 (Vicuna v1) conversation
 *    format, "<bos>SYSTEM USER: <image>\n<question> ASSISTANT:". It is what
 *    LLaVA-1.5 itself was trained with, so it is the least surprising guess
 *    for a pack that documents nothing; a pack whose model uses another
 *    format must ship its template.
 */
import { Template } from '@huggingface/jinja';
import { TwinLensError } from '../../shared/errors.js';
import type { TextTokenizer } from './tokenizer.js';

export type ChatRole = 'system' | 'user' | 'assistant';

export interface ChatMessage {
  role: ChatRole;
  content: string;
}

export type ChatTemplateOrigin = 'manifest' | 'tokenizer_config' | 'fallback';

/**
 * LLaVA-1.5 (Vicuna v1) format. A system message, when given, is written
 * first; user turns are "USER: …", assistant turns "ASSISTANT: …</s>", and the
 * generation prompt is "ASSISTANT:".
 */
export const FALLBACK_CHAT_TEMPLATE =
  '{{ bos_token }}' +
  '{% for message in messages %}' +
  "{% if message['role'] == 'system' %}{{ message['content'] }} " +
  "{% elif message['role'] == 'user' %}USER: {{ message['content'] }} " +
  "{% elif message['role'] == 'assistant' %}ASSISTANT: {{ message['content'] }}{{ eos_token }}" +
  '{% endif %}' +
  '{% endfor %}' +
  '{% if add_generation_prompt %}ASSISTANT:{% endif %}';

export interface RenderOptions {
  addGenerationPrompt?: boolean;
  bosToken?: string;
  eosToken?: string;
  /** Extra variables some templates read (e.g. pad_token, custom flags). */
  extra?: Record<string, unknown>;
}

export class ChatTemplate {
  private readonly template: Template;

  /** Parses the template; a syntax error is a pack error naming where the template came from. */
  constructor(
    readonly source: string,
    readonly origin: ChatTemplateOrigin,
  ) {
    try {
      this.template = new Template(source);
    } catch (e) {
      throw new TwinLensError(
        'PACK_MANIFEST_INVALID',
        `The chat template from ${describeOrigin(origin)} cannot be parsed: ${(e as Error).message}`,
        'Fix the Jinja template, or set llm.chatTemplate in pack.json',
      );
    }
  }

  /**
   * Picks the template: manifest override, then tokenizer_config.json, then the
   * documented fallback. Empty strings count as absent.
   */
  static resolve(manifestTemplate: string | undefined, tokenizer: TextTokenizer | undefined): ChatTemplate {
    if (manifestTemplate && manifestTemplate.trim()) return new ChatTemplate(manifestTemplate, 'manifest');
    const fromConfig = tokenizer?.chatTemplate;
    if (fromConfig && fromConfig.trim()) return new ChatTemplate(fromConfig, 'tokenizer_config');
    return new ChatTemplate(FALLBACK_CHAT_TEMPLATE, 'fallback');
  }

  /** Renders messages to prompt text. raise_exception() in a template becomes a pack error. */
  render(messages: readonly ChatMessage[], opts: RenderOptions = {}): string {
    try {
      return this.template.render({
        ...opts.extra,
        messages: messages.map((m) => ({ role: m.role, content: m.content })),
        add_generation_prompt: opts.addGenerationPrompt ?? true,
        bos_token: opts.bosToken ?? '',
        eos_token: opts.eosToken ?? '',
      });
    } catch (e) {
      throw new TwinLensError(
        'PACK_MANIFEST_INVALID',
        `The chat template from ${describeOrigin(this.origin)} failed to render: ${(e as Error).message}`,
        'The template may expect other roles or variables; set llm.chatTemplate in pack.json to a template for one user turn',
      );
    }
  }
}

function describeOrigin(origin: ChatTemplateOrigin): string {
  switch (origin) {
    case 'manifest':
      return 'pack.json (llm.chatTemplate)';
    case 'tokenizer_config':
      return 'tokenizer_config.json (chat_template)';
    default:
      return 'the built-in fallback';
  }
}

/** Where the image placeholder sits in the user message (pack.json llm.imagePlacement). */
export type ImagePlacement = 'before-question' | 'after-question';

/**
 * The single user turn of a visual question: the image placeholder, a newline, the question
 * (or the question, a newline, the placeholder, for packs trained that way).
 */
export function visualQuestionMessages(imageToken: string, question: string, system?: string, placement: ImagePlacement = 'before-question'): ChatMessage[] {
  const messages: ChatMessage[] = [];
  if (system) messages.push({ role: 'system', content: system });
  messages.push({ role: 'user', content: placement === 'after-question' ? `${question}\n${imageToken}` : `${imageToken}\n${question}` });
  return messages;
}

/**
 * Renders the prompt for one visual question with the tokenizer's bos/eos
 * strings and its other special tokens available to the template.
 */
export function renderVisualQuestion(
  template: ChatTemplate,
  tokenizer: TextTokenizer,
  imageToken: string,
  question: string,
  system?: string,
  placement: ImagePlacement = 'before-question',
): string {
  const extra: Record<string, unknown> = {};
  for (const key of ['pad_token', 'unk_token', 'sep_token', 'cls_token']) {
    if (typeof tokenizer.config[key] === 'string') extra[key] = tokenizer.config[key];
  }
  return template.render(visualQuestionMessages(imageToken, question, system, placement), {
    addGenerationPrompt: true,
    bosToken: tokenizer.bosToken,
    eosToken: tokenizer.eosToken,
    extra,
  });
}
