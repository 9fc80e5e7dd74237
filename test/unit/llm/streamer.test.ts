/**
 * TextStreamer: deltas of the decoded whole answer, multi-token characters
 * held back until complete (byte-level BPE), and stop strings that span
 * several tokens.
 */
import { describe, expect, it } from 'vitest';
import { TextStreamer } from '../../../src/engine/llm/streamer.js';
import { TextTokenizer } from '../../../src/engine/llm/tokenizer.js';
import { ID, tokenizerConfig, wordPieceTokenizerJson } from './word-vocab.js';

const words = TextTokenizer.fromObjects(wordPieceTokenizerJson(), tokenizerConfig());

/**
 * A byte-level BPE tokenizer whose vocabulary has single bytes only: "é" is
 * two tokens ("Ã" = 0xC3, "©" = 0xA9 in the GPT-2 byte alphabet).
 */
function byteLevel(): TextTokenizer {
  const vocab: Record<string, number> = { Ã: 0, '©': 1, a: 2, b: 3, Ġ: 4, '<eos>': 5 };
  return TextTokenizer.fromObjects(
    {
      model: { type: 'BPE', vocab, merges: [] },
      added_tokens: [{ id: 5, content: '<eos>', special: true, normalized: false, lstrip: false, rstrip: false, single_word: false }],
      normalizer: null,
      pre_tokenizer: { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true },
      post_processor: null,
      decoder: { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true },
    },
    { eos_token: '<eos>' },
  );
}

function stream(s: TextStreamer, ids: number[]): string[] {
  return ids.map((id) => s.push(id).delta);
}

describe('TextStreamer', () => {
  it('emits the new suffix of the decoded text, joining ## pieces', () => {
    const s = new TextStreamer(words);
    expect(stream(s, [ID.big, ID.red, ID.circle, ID['##s'], ID['.']])).toEqual(['big', ' red', ' circle', 's', '.']);
    expect(s.text).toBe('big red circles.');
    expect(s.flush()).toBe('');
    expect(s.ids).toEqual([ID.big, ID.red, ID.circle, ID['##s'], ID['.']]);
  });

  it('emits nothing for special tokens', () => {
    const s = new TextStreamer(words);
    expect(stream(s, [ID['<s>'], ID.yes, ID['</s>']])).toEqual(['', 'yes', '']);
    expect(s.text).toBe('yes');
  });

  it('holds back an incomplete multi-byte character until its last byte', () => {
    const tok = byteLevel();
    expect(tok.encode('aé')).toEqual([2, 0, 1]);
    const s = new TextStreamer(tok);
    expect(stream(s, [2, 0, 1, 4, 3])).toEqual(['a', '', 'é', ' ', 'b']);
    expect(s.text).toBe('aé b');
  });

  it('flushes a dangling incomplete character at the end', () => {
    const s = new TextStreamer(byteLevel());
    expect(stream(s, [3, 0])).toEqual(['b', '']);
    expect(s.flush()).toBe('\uFFFD');
  });

  it('stops on a stop string spanning tokens and never shows it', () => {
    const s = new TextStreamer(words, ['stop here']);
    const deltas: string[] = [];
    let stopped = false;
    for (const id of [ID.red, ID.square, ID.stop, ID.here, ID.blue]) {
      const step = s.push(id);
      deltas.push(step.delta);
      if (step.stopped) {
        stopped = true;
        break;
      }
    }
    expect(stopped).toBe(true);
    expect(deltas).toEqual(['red', ' square', ' ', '']);
    expect(deltas.join('')).toBe(s.text);
    expect(s.text).toBe('red square ');
    expect(s.stopString).toBe('stop here');
    expect(s.push(ID.blue)).toEqual({ delta: '', stopped: true });
  });

  it('releases a held-back stop-string prefix when the stop does not follow', () => {
    const s = new TextStreamer(words, ['stop here']);
    expect(stream(s, [ID.red, ID.stop])).toEqual(['red', ' ']);
    expect(s.push(ID.end)).toEqual({ delta: 'stop end', stopped: false });
    const t = new TextStreamer(words, ['stop here']);
    stream(t, [ID.red, ID.stop]);
    expect(t.flush()).toBe('stop');
    expect(t.text).toBe('red stop');
  });

  it('picks the earliest of several stop strings', () => {
    const s = new TextStreamer(words, ['blue', 'red green', '']);
    stream(s, [ID.yes, ID.red, ID.green, ID.blue]);
    expect(s.stopString).toBe('red green');
    expect(s.text).toBe('yes ');
  });
});
