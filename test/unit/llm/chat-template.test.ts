/**
 * ChatTemplate: where the template comes from (manifest, tokenizer_config,
 * fallback), what the visual question renders to, and the errors a broken
 * template gives.
 */
import { describe, expect, it } from 'vitest';
import { ChatTemplate, FALLBACK_CHAT_TEMPLATE, renderVisualQuestion, visualQuestionMessages } from '../../../src/engine/llm/chat-template.js';
import { TextTokenizer } from '../../../src/engine/llm/tokenizer.js';
import { VICUNA_TEMPLATE, tokenizerConfig, wordPieceTokenizerJson } from './word-vocab.js';

const CHATML =
  "{% for m in messages %}{{ '<|im_start|>' + m['role'] + '\\n' + m['content'] + '<|im_end|>' + '\\n' }}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}";

const tokenizer = (extra: Record<string, unknown> = {}) => TextTokenizer.fromObjects(wordPieceTokenizerJson(), tokenizerConfig(extra));

describe('ChatTemplate.resolve', () => {
  it('prefers the manifest, then tokenizer_config, then the fallback', () => {
    expect(ChatTemplate.resolve('M{{ bos_token }}', tokenizer({ chat_template: VICUNA_TEMPLATE })).origin).toBe('manifest');
    const fromConfig = ChatTemplate.resolve(undefined, tokenizer({ chat_template: VICUNA_TEMPLATE }));
    expect(fromConfig.origin).toBe('tokenizer_config');
    expect(fromConfig.source).toBe(VICUNA_TEMPLATE);
    const fallback = ChatTemplate.resolve('  ', tokenizer());
    expect(fallback.origin).toBe('fallback');
    expect(fallback.source).toBe(FALLBACK_CHAT_TEMPLATE);
    expect(ChatTemplate.resolve(undefined, undefined).origin).toBe('fallback');
  });
});

describe('rendering a visual question', () => {
  it('uses the LLaVA-1.5 format when the pack has no template', () => {
    const t = ChatTemplate.resolve(undefined, tokenizer());
    expect(renderVisualQuestion(t, tokenizer(), '<image>', 'What color is the circle?')).toBe('<s>USER: <image>\nWhat color is the circle? ASSISTANT:');
  });

  it('puts a system message first in the fallback format', () => {
    const t = ChatTemplate.resolve(undefined, tokenizer());
    expect(renderVisualQuestion(t, tokenizer(), '<image>', 'Is it red?', 'Answer briefly.')).toBe('<s>Answer briefly. USER: <image>\nIs it red? ASSISTANT:');
  });

  it('passes bos/eos from {content} objects as strings', () => {
    const tpl = new ChatTemplate('[{{ bos_token }}|{{ eos_token }}|{{ pad_token }}]{{ messages[0].content }}', 'manifest');
    expect(renderVisualQuestion(tpl, tokenizer(), '<image>', 'q')).toBe('[<s>|</s>|<pad>]<image>\nq');
  });

  it('renders a tokenizer_config template such as ChatML', () => {
    const tok = tokenizer({ chat_template: CHATML });
    const t = ChatTemplate.resolve(undefined, tok);
    expect(renderVisualQuestion(t, tok, '<image>', 'Which shape?')).toBe('<|im_start|>user\n<image>\nWhich shape?<|im_end|>\n<|im_start|>assistant\n');
  });

  it('honours addGenerationPrompt and renders assistant turns with eos', () => {
    const t = new ChatTemplate(VICUNA_TEMPLATE, 'tokenizer_config');
    const messages = [...visualQuestionMessages('<image>', 'Is it big?'), { role: 'assistant' as const, content: 'Yes.' }];
    expect(t.render(messages, { bosToken: '<s>', eosToken: '</s>', addGenerationPrompt: false })).toBe('<s>USER: <image>\nIs it big? ASSISTANT: Yes.</s>');
  });

  it('renders missing bos/eos as empty strings', () => {
    const t = new ChatTemplate(FALLBACK_CHAT_TEMPLATE, 'fallback');
    expect(t.render(visualQuestionMessages('<image>', 'q'))).toBe('USER: <image>\nq ASSISTANT:');
  });
});

describe('template errors', () => {
  it('reports a syntax error with the template origin', () => {
    expect(() => new ChatTemplate('{% for m in messages %}{{ m.content }', 'tokenizer_config')).toThrow(
      expect.objectContaining({ code: 'PACK_MANIFEST_INVALID', message: expect.stringContaining('tokenizer_config.json (chat_template) cannot be parsed') }),
    );
  });

  it('reports raise_exception() as a render failure', () => {
    const t = new ChatTemplate("{% if messages[0]['role'] != 'system' %}{{ raise_exception('System message required') }}{% endif %}", 'manifest');
    expect(() => t.render(visualQuestionMessages('<image>', 'q'))).toThrow(
      expect.objectContaining({
        code: 'PACK_MANIFEST_INVALID',
        message: expect.stringMatching(/pack\.json \(llm\.chatTemplate\) failed to render: .*System message required/),
      }),
    );
  });
});
