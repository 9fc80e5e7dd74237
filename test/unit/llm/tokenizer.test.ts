/**
 * TextTokenizer: encoding/decoding on a small in-memory WordPiece vocabulary,
 * the WordLevel adapter, special-token lookups, and the errors a broken pack
 * gets (each must name the file and what is wrong).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TextTokenizer, specialTokenText } from '../../../src/engine/llm/tokenizer.js';
import { ID, SPECIALS, VICUNA_TEMPLATE, WORDS, tokenizerConfig, wordPieceTokenizerJson } from './word-vocab.js';

const tok = () => TextTokenizer.fromObjects(wordPieceTokenizerJson(), tokenizerConfig());

describe('TextTokenizer on a WordPiece vocabulary', () => {
  it('encodes lowercase words and punctuation without adding special tokens', () => {
    expect(tok().encode('What color is the circle?')).toEqual([ID.what, ID.color, ID.is, ID.the, ID.circle, ID['?']]);
  });

  it('keeps special tokens written in the text as single ids', () => {
    expect(tok().encode('<s>USER: <image>\nRed')).toEqual([ID['<s>'], ID.user, ID[':'], ID['<image>'], ID.red]);
  });

  it('splits into ## pieces and maps unknown words to <unk>', () => {
    expect(tok().encode('circles smallest zebra')).toEqual([ID.circle, ID['##s'], ID.small, ID['##est'], ID['<unk>']]);
  });

  it('decodes, skipping special tokens by default and joining ## pieces', () => {
    const t = tok();
    const ids = [ID['<s>'], ID.red, ID.circle, ID['##s'], ID['</s>']];
    expect(t.decode(ids)).toBe('red circles');
    expect(t.decode(ids, { skipSpecial: false })).toBe('<s> red circles </s>');
    expect(t.decode([])).toBe('');
  });

  it('looks up ids and token strings', () => {
    const t = tok();
    expect(t.idOf('<image>')).toBe(4);
    expect(t.idOf('blue')).toBe(ID.blue);
    expect(t.idOf('<nope>')).toBeUndefined();
    expect(t.tokenOf(ID.green)).toBe('green');
    expect(t.tokenOf(9999)).toBeUndefined();
    expect(t.tokensOf([0, 3])).toEqual(['<pad>', '</s>']);
    expect(t.vocabSize).toBe(SPECIALS.length + WORDS.length);
    expect(t.requireId('</s>', 'Stop token')).toBe(3);
    expect(() => t.requireId('<nope>', 'Stop token')).toThrow(
      expect.objectContaining({ code: 'PACK_MANIFEST_INVALID', message: expect.stringContaining('Stop token "<nope>"') }),
    );
  });

  it('reads bos/eos from strings or {content} objects', () => {
    const t = tok();
    expect(t.bosToken).toBe('<s>');
    expect(t.eosToken).toBe('</s>');
    expect(t.eosId).toBe(3);
    expect(t.config.unk_token).toBe('<unk>');
    expect(specialTokenText({ content: '<x>' })).toBe('<x>');
    expect(specialTokenText(null)).toBeUndefined();
    const noEos = TextTokenizer.fromObjects(wordPieceTokenizerJson(), tokenizerConfig({ eos_token: null }));
    expect(noEos.eosToken).toBeUndefined();
    expect(noEos.eosId).toBeUndefined();
  });

  it('finds chat_template as a string or as the "default" entry of a list', () => {
    expect(tok().chatTemplate).toBeUndefined();
    expect(TextTokenizer.fromObjects(wordPieceTokenizerJson(), tokenizerConfig({ chat_template: VICUNA_TEMPLATE })).chatTemplate).toBe(VICUNA_TEMPLATE);
    const list = [
      { name: 'tool_use', template: 'T' },
      { name: 'default', template: 'D' },
    ];
    expect(TextTokenizer.fromObjects(wordPieceTokenizerJson(), tokenizerConfig({ chat_template: list })).chatTemplate).toBe('D');
  });
});

describe('TextTokenizer on a WordLevel vocabulary', () => {
  const wl = () => TextTokenizer.fromObjects(wordPieceTokenizerJson({ wordLevel: true }), tokenizerConfig());

  it('maps whole words only: a word outside the vocabulary is <unk>, never split', () => {
    expect(wl().encode('Red circles ?')).toEqual([ID.red, ID['<unk>'], ID['?']]);
    expect(wl().encode('<image>\nthe square')).toEqual([ID['<image>'], ID.the, ID.square]);
  });

  it('decodes by joining tokens with spaces', () => {
    expect(wl().decode([ID.big, ID.red, ID.square])).toBe('big red square');
  });
});

describe('TextTokenizer.load errors name the file and the fault', () => {
  let dir: string;
  const write = (name: string, content: string) => {
    const p = join(dir, name);
    writeFileSync(p, content);
    return p;
  };
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'twinlens-tok-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('loads a valid pair of files', async () => {
    const t = await TextTokenizer.load(write('ok.json', JSON.stringify(wordPieceTokenizerJson())), write('ok_config.json', JSON.stringify(tokenizerConfig())));
    expect(t.encode('blue square')).toEqual([ID.blue, ID.square]);
    expect(t.source.tokenizer).toBe(join(dir, 'ok.json'));
  });

  it('works without tokenizer_config.json', async () => {
    const t = await TextTokenizer.load(write('alone.json', JSON.stringify(wordPieceTokenizerJson())));
    expect(t.eosId).toBeUndefined();
    expect(t.decode([ID.yes])).toBe('yes');
  });

  const cases: Array<[string, () => Promise<unknown>, RegExp]> = [
    ['a missing tokenizer.json', () => TextTokenizer.load(join(dir, 'absent.json')), /absent\.json: tokenizer\.json file not found/],
    [
      'a folder instead of a file',
      () => TextTokenizer.load((mkdirSync(join(dir, 'sub'), { recursive: true }), join(dir, 'sub'))),
      /tokenizer\.json is a directory/,
    ],
    ['broken JSON', () => TextTokenizer.load(write('broken.json', '{"model": ')), /broken\.json: tokenizer\.json is not valid JSON/],
    ['a JSON array', () => TextTokenizer.load(write('array.json', '[1,2]')), /must contain a JSON object, found an array/],
    ['no model', () => TextTokenizer.load(write('nomodel.json', '{"added_tokens": []}')), /has no "model" object/],
    [
      'an unsupported model type',
      () => TextTokenizer.load(write('type.json', JSON.stringify({ model: { type: 'CharLevel', vocab: {} } }))),
      /model type "CharLevel" is not supported/,
    ],
    [
      'a model without vocab',
      () => TextTokenizer.load(write('novocab.json', JSON.stringify({ model: { type: 'WordPiece' } }))),
      /\(WordPiece\) has no "vocab"/,
    ],
    [
      'BPE without merges',
      () => TextTokenizer.load(write('bpe.json', JSON.stringify({ model: { type: 'BPE', vocab: { a: 0 } } }))),
      /BPE tokenizer model has no "merges"/,
    ],
    [
      'a malformed added token',
      () => TextTokenizer.load(write('added.json', JSON.stringify({ ...wordPieceTokenizerJson(), added_tokens: [{ id: 'x', content: '<s>' }] }))),
      /added_tokens\[0\] needs a numeric "id"/,
    ],
    [
      'a missing tokenizer_config.json',
      () => TextTokenizer.load(write('t1.json', JSON.stringify(wordPieceTokenizerJson())), join(dir, 'nocfg.json')),
      /nocfg\.json: tokenizer_config\.json file not found/,
    ],
    [
      'an eos_token of the wrong type',
      () => TextTokenizer.load(write('t2.json', JSON.stringify(wordPieceTokenizerJson())), write('badcfg.json', JSON.stringify({ eos_token: 3 }))),
      /badcfg\.json: "eos_token" must be a string or an object with "content"/,
    ],
    [
      'a chat_template of the wrong type',
      () => TextTokenizer.load(write('t3.json', JSON.stringify(wordPieceTokenizerJson())), write('badtpl.json', JSON.stringify({ chat_template: 5 }))),
      /badtpl\.json: "chat_template" must be a string/,
    ],
  ];
  for (const [what, run, message] of cases) {
    it(`rejects ${what}`, async () => {
      await expect(run()).rejects.toMatchObject({ code: 'PACK_MANIFEST_INVALID', message: expect.stringMatching(message) });
    });
  }
});
