/**
 * Decoder prompt: placeholder expansion, position ids, image positions, and
 * whose fault each malformed prompt is.
 */
import { describe, expect, it } from 'vitest';
import { ChatTemplate } from '../../../src/engine/llm/chat-template.js';
import { buildDecoderPrompt, expandImagePlaceholder, positionIdsFor } from '../../../src/engine/llm/prompt.js';
import { TextTokenizer } from '../../../src/engine/llm/tokenizer.js';
import { ID, tokenizerConfig, wordPieceTokenizerJson } from './word-vocab.js';

const tokenizer = TextTokenizer.fromObjects(wordPieceTokenizerJson(), tokenizerConfig());
const fallback = ChatTemplate.resolve(undefined, tokenizer);
const IMG = ID['<image>'];

describe('expandImagePlaceholder', () => {
  it('repeats the placeholder and records where the copies are', () => {
    const r = expandImagePlaceholder([2, 5, IMG, 9, 10], IMG, 3);
    expect(r.inputIds).toEqual([2, 5, IMG, IMG, IMG, 9, 10]);
    expect(r.imagePositions).toEqual([2, 3, 4]);
  });

  it('handles the placeholder at either end', () => {
    expect(expandImagePlaceholder([IMG, 7], IMG, 2)).toEqual({ inputIds: [IMG, IMG, 7], imagePositions: [0, 1] });
    expect(expandImagePlaceholder([7, IMG], IMG, 1)).toEqual({ inputIds: [7, IMG], imagePositions: [1] });
  });

  it('expands one run per image when several images are expected', () => {
    const r = expandImagePlaceholder([IMG, 7, IMG], IMG, 2, 2);
    expect(r.inputIds).toEqual([IMG, IMG, 7, IMG, IMG]);
    expect(r.imagePositions).toEqual([0, 1, 3, 4]);
  });

  it('refuses no placeholder, too many, or a non-positive token count', () => {
    expect(() => expandImagePlaceholder([1, 2, 3], IMG, 4)).toThrow(
      expect.objectContaining({ code: 'INVALID_ARGUMENT', message: expect.stringContaining('no image placeholder') }),
    );
    expect(() => expandImagePlaceholder([IMG, 2, IMG], IMG, 4)).toThrow(expect.objectContaining({ message: expect.stringContaining('2 image placeholders') }));
    expect(() => expandImagePlaceholder([IMG], IMG, 0)).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
    expect(() => expandImagePlaceholder([IMG], IMG, 1.5)).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
  });
});

describe('positionIdsFor', () => {
  it('counts from the start offset', () => {
    expect(positionIdsFor(4)).toEqual([0, 1, 2, 3]);
    expect(positionIdsFor(2, 7)).toEqual([7, 8]);
  });
});

describe('buildDecoderPrompt', () => {
  const base = { tokenizer, template: fallback, imageToken: '<image>' };

  it('renders, tokenizes and expands the fallback LLaVA prompt', () => {
    const p = buildDecoderPrompt({ ...base, question: 'What color is the circle?', visualTokens: 4 });
    expect(p.text).toBe('<s>USER: <image>\nWhat color is the circle? ASSISTANT:');
    const head = [ID['<s>'], ID.user, ID[':']];
    const tail = [ID.what, ID.color, ID.is, ID.the, ID.circle, ID['?'], ID.assistant, ID[':']];
    expect(p.inputIds).toEqual([...head, IMG, IMG, IMG, IMG, ...tail]);
    expect(p.imagePositions).toEqual([3, 4, 5, 6]);
    expect(p.positionIds).toEqual(p.inputIds.map((_, i) => i));
    expect(p.textTokens).toBe(head.length + 1 + tail.length);
  });

  it('puts the image after the question for packs trained that way (llm.imagePlacement)', () => {
    const p = buildDecoderPrompt({ ...base, question: 'What color is the circle?', visualTokens: 2, imagePlacement: 'after-question' });
    expect(p.text).toBe('<s>USER: What color is the circle?\n<image> ASSISTANT:');
    const q = [ID.what, ID.color, ID.is, ID.the, ID.circle, ID['?']];
    expect(p.inputIds).toEqual([ID['<s>'], ID.user, ID[':'], ...q, IMG, IMG, ID.assistant, ID[':']]);
    expect(p.imagePositions).toEqual([3 + q.length, 4 + q.length]);
    const before = buildDecoderPrompt({ ...base, question: 'What color is the circle?', visualTokens: 2, imagePlacement: 'before-question' });
    expect(before.text).toBe('<s>USER: <image>\nWhat color is the circle? ASSISTANT:');
  });

  it('refuses a question that contains the placeholder (the user’s fault)', () => {
    expect(() => buildDecoderPrompt({ ...base, question: 'Is <image> red?', visualTokens: 2 })).toThrow(
      expect.objectContaining({ code: 'INVALID_ARGUMENT', message: expect.stringContaining('must not contain') }),
    );
    expect(() => buildDecoderPrompt({ ...base, question: '   ', visualTokens: 2 })).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
  });

  it('refuses a template that drops or repeats the placeholder (the pack’s fault)', () => {
    const drops = new ChatTemplate("USER: {{ messages[0]['content'] | replace('<image>', '') }} ASSISTANT:", 'manifest');
    expect(() => buildDecoderPrompt({ ...base, template: drops, question: 'Is it red?', visualTokens: 2 })).toThrow(
      expect.objectContaining({ code: 'PACK_MANIFEST_INVALID', message: expect.stringContaining('pack.json (llm.chatTemplate) has no image placeholder') }),
    );
    const repeats = new ChatTemplate("{{ messages[0]['content'] }} {{ messages[0]['content'] }}", 'tokenizer_config');
    expect(() => buildDecoderPrompt({ ...base, template: repeats, question: 'Is it red?', visualTokens: 2 })).toThrow(
      expect.objectContaining({ code: 'PACK_MANIFEST_INVALID', message: expect.stringContaining('has 2 image placeholders') }),
    );
  });

  it('refuses an image token that is not a single token of the tokenizer', () => {
    expect(() => buildDecoderPrompt({ ...base, imageToken: '<img>', question: 'Is it red?', visualTokens: 2 })).toThrow(
      expect.objectContaining({ code: 'PACK_MANIFEST_INVALID', message: expect.stringContaining('"<img>"') }),
    );
  });

  it('refuses a prompt that leaves no room in the context', () => {
    const q = { ...base, question: 'Is it red?', visualTokens: 10 };
    const n = buildDecoderPrompt(q).inputIds.length;
    expect(() => buildDecoderPrompt({ ...q, maxLength: n + 1 })).not.toThrow();
    expect(() => buildDecoderPrompt({ ...q, maxLength: n })).toThrow(
      expect.objectContaining({ code: 'INVALID_ARGUMENT', message: expect.stringContaining(`needs ${n} tokens`) }),
    );
  });
});
