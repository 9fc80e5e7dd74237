/**
 * Small in-memory tokenizer files for the LLM unit tests.
 *
 * Why: the tokenizer, template, prompt and streamer logic must be testable
 * without any model pack. A WordPiece vocabulary of whole words (plus a few
 * "##" pieces) with the usual specials gives exact, readable token ids:
 * <pad>=0, <unk>=1, <s>=2, </s>=3, <image>=4, then the words in order.
 */

export const SPECIALS = ['<pad>', '<unk>', '<s>', '</s>', '<image>'] as const;

export const WORDS = [
  'user',
  'assistant',
  'system',
  ':',
  '?',
  '.',
  ',',
  '!',
  'what',
  'color',
  'is',
  'the',
  'circle',
  'square',
  'triangle',
  'shape',
  'red',
  'blue',
  'green',
  'yes',
  'no',
  'a',
  'an',
  'there',
  'left',
  'right',
  'of',
  'big',
  'small',
  'stop',
  'here',
  'end',
  '##s',
  '##er',
  '##est',
] as const;

/** token → id for the vocabulary above. */
export function vocabMap(): Record<string, number> {
  const vocab: Record<string, number> = {};
  [...SPECIALS, ...WORDS].forEach((t, i) => (vocab[t] = i));
  return vocab;
}

export const ID = vocabMap();

/** tokenizer.json for a lowercase, BERT-pre-tokenized WordPiece model. */
export function wordPieceTokenizerJson(opts: { wordLevel?: boolean } = {}): Record<string, unknown> {
  const vocab = vocabMap();
  return {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: SPECIALS.map((content, id) => ({
      id,
      content,
      single_word: false,
      lstrip: false,
      rstrip: false,
      normalized: false,
      special: true,
    })),
    normalizer: { type: 'Lowercase' },
    pre_tokenizer: { type: 'BertPreTokenizer' },
    post_processor: null,
    decoder: opts.wordLevel ? null : { type: 'WordPiece', prefix: '##', cleanup: true },
    model: opts.wordLevel
      ? { type: 'WordLevel', vocab, unk_token: '<unk>' }
      : { type: 'WordPiece', unk_token: '<unk>', continuing_subword_prefix: '##', max_input_chars_per_word: 100, vocab },
  };
}

/** tokenizer_config.json; bos/eos written as AddedToken objects like transformers does. */
export function tokenizerConfig(extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    bos_token: { content: '<s>', lstrip: false, normalized: false, rstrip: false, single_word: false, __type: 'AddedToken' },
    eos_token: '</s>',
    pad_token: '<pad>',
    unk_token: { content: '<unk>' },
    clean_up_tokenization_spaces: false,
    ...extra,
  };
}

/** A Vicuna-style chat template like LLaVA-1.5's, as a tokenizer_config would carry it. */
export const VICUNA_TEMPLATE =
  "{{ bos_token }}{% for m in messages %}{% if m['role'] == 'user' %}USER: {{ m['content'] }} {% else %}ASSISTANT: {{ m['content'] }}{{ eos_token }}{% endif %}{% endfor %}{% if add_generation_prompt %}ASSISTANT:{% endif %}";
