/**
 * The tokenizers of the public export families, checked against ids computed
 * by independent Python implementations when the family fixtures were built:
 * CLIP BPE rebuilt from vocab.json + merges.txt (SD 1.x pads with
 * <|endoftext|>, SD 2.x with "!"), and the LLaVA-Qwen byte-level BPE
 * tokenizer.json with its ChatML template and <image> token.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Tokenizer } from '@huggingface/tokenizers';
import { describe, expect, it } from 'vitest';
import { CLIP_EOS, parseMerges, readTextTokenizerFolder } from '../../../src/engine/importers/clip-bpe.js';
import { TextTokenizer } from '../../../src/engine/llm/tokenizer.js';

const FAM = path.resolve('test/fixtures/families');
const golden = JSON.parse(fs.readFileSync(path.join(FAM, 'golden.json'), 'utf8')) as {
  clip_tokenizer: { strings: string[]; ids: number[][]; tokens: string[][]; eot_id: number; vocab_size: number; pad_ids: Record<string, number> };
  llm_tokenizer: { strings: string[]; ids: number[][]; image_token_id: number; eos_id: number };
};

describe('CLIP BPE from vocab.json + merges.txt', () => {
  const sd15 = readTextTokenizerFolder(path.join(FAM, 'sd15-diffusers/tokenizer'));

  it('converts and encodes exactly like the reference CLIP tokenizer', () => {
    expect(sd15.source).toBe('vocab+merges');
    expect(sd15.vocabSize).toBe(golden.clip_tokenizer.vocab_size);
    const tok = new Tokenizer(sd15.tokenizerJson, {});
    golden.clip_tokenizer.strings.forEach((s, i) => {
      const enc = tok.encode(s);
      expect(enc.ids, s).toEqual(golden.clip_tokenizer.ids[i]);
      expect(enc.tokens, s).toEqual(golden.clip_tokenizer.tokens[i]);
    });
  });

  it('reads the pad token and length per family', () => {
    expect(sd15.padTokenId).toBe(golden.clip_tokenizer.pad_ids['sd15-diffusers']);
    expect(sd15.padTokenId).toBe(golden.clip_tokenizer.eot_id);
    expect(sd15.maxLength).toBe(77);
    const sd21 = readTextTokenizerFolder(path.join(FAM, 'sd21-optimum/tokenizer'));
    expect(sd21.padTokenId).toBe(golden.clip_tokenizer.pad_ids['sd21-optimum']);
  });

  it('prefers a tokenizer.json when the folder has one', () => {
    const dir = fs.mkdtempSync(path.join(fs.realpathSync('/tmp'), 'tl-tok-'));
    fs.writeFileSync(path.join(dir, 'tokenizer.json'), JSON.stringify(sd15.tokenizerJson));
    fs.writeFileSync(path.join(dir, 'tokenizer_config.json'), JSON.stringify({ model_max_length: 1e30, pad_token: CLIP_EOS }));
    const t = readTextTokenizerFolder(dir);
    expect(t.source).toBe('tokenizer.json');
    expect(t.maxLength).toBe(77);
    expect(t.padTokenId).toBe(golden.clip_tokenizer.eot_id);
    fs.rmSync(dir, { recursive: true });
  });

  it('rejects broken merges and missing files with the file named', () => {
    expect(parseMerges('#version: 0.2\na b\n\nc d\n')).toEqual(['a b', 'c d']);
    expect(() => parseMerges('#version: 0.2\nabc\n', 'm.txt')).toThrow(/m\.txt: line 2/);
    expect(() => readTextTokenizerFolder(path.join(FAM, 'sd15-diffusers/unet'))).toThrow(/neither tokenizer\.json nor vocab\.json/);
  });
});

describe('LLaVA-Qwen byte-level BPE tokenizer.json', () => {
  it('encodes like the reference byte-level BPE, splitting added tokens', async () => {
    const dir = path.join(FAM, 'llava-qwen-transformersjs');
    const tok = await TextTokenizer.load(path.join(dir, 'tokenizer.json'), path.join(dir, 'tokenizer_config.json'));
    golden.llm_tokenizer.strings.forEach((s, i) => expect(tok.encode(s), s).toEqual(golden.llm_tokenizer.ids[i]));
    expect(tok.idOf('<image>')).toBe(golden.llm_tokenizer.image_token_id);
    expect(tok.eosId).toBe(golden.llm_tokenizer.eos_id);
    expect(tok.chatTemplate).toContain('<|im_start|>');
    expect(tok.decode(golden.llm_tokenizer.ids[1])).toBe(golden.llm_tokenizer.strings[1]);
  });
});
