/**
 * LlmGenerator on a tiny LLM built in the test (tiny-llm.ts) and run by the
 * real onnxruntime-node: the shared behavioural suite, plus the checks made
 * when a generator is built (the decoder's declared inputs and cache shapes
 * against the manifest), the merged decoder's use_cache_branch input, and
 * stop strings that are not single tokens.
 *
 * Why a generated model: it exists on every machine without the training
 * pipeline, and random weights give varied greedy sequences, which makes a
 * wrong cache or position id show up immediately.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rmSync } from 'node:fs';
import { LlmGenerator, type LlmGenerationSection } from '../../../src/engine/llm/generator.js';
import { TextTokenizer } from '../../../src/engine/llm/tokenizer.js';
import { OnnxSession } from '../../../src/engine/onnx/session.js';
import { type LlmContext, generatorSuite, visualTokens } from './generator-suite.js';
import { type TinyLlmFiles, writeTinyLlm } from './tiny-llm.js';
import { SPECIALS, WORDS, tokenizerConfig, wordPieceTokenizerJson } from './word-vocab.js';

const HIDDEN = 16;
const HEADS = 2;
const LAYERS = 2;
const SECTION: LlmGenerationSection = {
  numLayers: LAYERS,
  numKvHeads: HEADS,
  headDim: HIDDEN / HEADS,
  maxLength: 64,
  dtype: 'float32',
  imageToken: '<image>',
  stopTokens: [],
};

interface Built {
  files: TinyLlmFiles;
  embedTokens: OnnxSession;
  decoder: OnnxSession;
}

async function build(useCacheBranch: boolean, fp16Io = false): Promise<Built> {
  const files = writeTinyLlm({
    vocab: SPECIALS.length + WORDS.length,
    hidden: HIDDEN,
    heads: HEADS,
    layers: LAYERS,
    maxPositions: 64,
    seed: 2,
    useCacheBranch,
    fp16Io,
  });
  const embedTokens = await OnnxSession.open(files.embedTokens, { provider: 'cpu', label: 'tiny embed_tokens', threads: 1 });
  const decoder = await OnnxSession.open(files.decoder, { provider: 'cpu', label: 'tiny decoder', threads: 1 });
  return { files, embedTokens, decoder };
}

function release(b: Built | undefined): void {
  if (!b) return;
  b.embedTokens.dispose();
  b.decoder.dispose();
  rmSync(b.files.dir, { recursive: true, force: true });
}

const noEos = () => TextTokenizer.fromObjects(wordPieceTokenizerJson(), tokenizerConfig({ eos_token: null }));

const VARIANTS = [
  { name: 'plain float32 decoder', useCacheBranch: false, fp16Io: false },
  { name: 'merged decoder with use_cache_branch', useCacheBranch: true, fp16Io: false },
  { name: 'float16 inputs_embeds, KV cache and logits', useCacheBranch: true, fp16Io: true },
];

for (const variant of VARIANTS) {
  describe(`LlmGenerator on a generated tiny LLM (${variant.name})`, () => {
    let built: Built;
    let ctx: LlmContext;
    beforeAll(async () => {
      built = await build(variant.useCacheBranch, variant.fp16Io);
      ctx = {
        embedTokens: built.embedTokens,
        decoder: built.decoder,
        tokenizer: noEos(),
        section: SECTION,
        hidden: HIDDEN,
        question: 'What color is the circle?',
      };
    });
    afterAll(() => release(built));
    generatorSuite(() => ctx);
  });
}

describe('LlmGenerator checks and stops', () => {
  let built: Built;
  beforeAll(async () => {
    built = await build(true);
  });
  afterAll(() => release(built));
  const make = (section: Partial<LlmGenerationSection> = {}, tokenizer = noEos()) =>
    new LlmGenerator({ embedTokens: built.embedTokens, decoder: built.decoder, tokenizer, section: { ...SECTION, ...section } });

  it('refuses a manifest whose numLayers, numKvHeads or headDim disagree with the decoder', () => {
    expect(() => make({ numLayers: 3 })).toThrow(
      expect.objectContaining({ code: 'ONNX_IO_MISMATCH', message: expect.stringContaining('2 past_key_values layers but the manifest says numLayers = 3') }),
    );
    expect(() => make({ numKvHeads: 4 })).toThrow(expect.objectContaining({ code: 'ONNX_IO_MISMATCH', message: expect.stringContaining('numKvHeads = 4') }));
    expect(() => make({ headDim: 4 })).toThrow(expect.objectContaining({ code: 'ONNX_IO_MISMATCH', message: expect.stringContaining('headDim = 4') }));
  });

  it('refuses an image token the tokenizer does not have', () => {
    expect(() => make({ imageToken: '<img>' })).toThrow(
      expect.objectContaining({ code: 'PACK_MANIFEST_INVALID', message: expect.stringContaining('"<img>"') }),
    );
  });

  it('exposes the decoder contract it found', () => {
    const gen = make();
    expect(gen.io.hasUseCacheBranch).toBe(true);
    expect(gen.io.hasPositionIds).toBe(true);
    expect(gen.io.hiddenSize).toBe(HIDDEN);
    expect(gen.template.origin).toBe('fallback');
  });

  it('stops at eos, which is neither counted nor shown', async () => {
    const free = await make().generate({ question: 'Is there a square?', visual: visualTokens(3, HIDDEN), settings: { maxTokens: 5 } });
    // Declare the third generated token to be eos: generation must end just before its first occurrence.
    const eosToken = noEos().tokenOf(free.tokenIds[2])!;
    const withEos = TextTokenizer.fromObjects(wordPieceTokenizerJson(), tokenizerConfig({ eos_token: eosToken }));
    const r = await make({}, withEos).generate({ question: 'Is there a square?', visual: visualTokens(3, HIDDEN), settings: { maxTokens: 5 } });
    expect(r.stop).toBe('eos');
    expect(r.tokenIds).toEqual(free.tokenIds.slice(0, free.tokenIds.indexOf(free.tokenIds[2])));
  });

  it('ends on a multi-token stop string and cuts the text before it', async () => {
    const free = await make().generate({ question: 'What shape is left?', visual: visualTokens(4, HIDDEN, 3), settings: { maxTokens: 6 } });
    const tok = noEos();
    const stop = tok.decode(free.tokenIds.slice(2, 4));
    expect(stop.length).toBeGreaterThan(0);
    expect(tok.idOf(stop)).toBeUndefined(); // not a single token: matched in the text
    let streamed = '';
    const r = await make({ stopTokens: [stop] }).generate({
      question: 'What shape is left?',
      visual: visualTokens(4, HIDDEN, 3),
      settings: { maxTokens: 6 },
      onToken: (t) => (streamed += t),
    });
    expect(r.stop).toBe('stop-token');
    expect(r.text).toBe(free.text.slice(0, free.text.indexOf(stop)));
    expect(streamed).toBe(r.text);
  });

  it('rejects malformed visual tokens and settings before running anything', async () => {
    const gen = make();
    await expect(gen.generate({ question: 'q', visual: { embeds: new Float32Array(10), tokens: 2, hidden: HIDDEN } })).rejects.toMatchObject({
      code: 'INVALID_ARGUMENT',
    });
    await expect(gen.generate({ question: 'q', visual: visualTokens(2, HIDDEN), settings: { topP: 0 } })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    await expect(gen.generate({ question: 'q', visual: visualTokens(2, HIDDEN), settings: { maxTokens: 0 } })).rejects.toMatchObject({
      code: 'INVALID_ARGUMENT',
    });
  });

  it('refuses to run after dispose', async () => {
    const gen = make();
    gen.dispose();
    await expect(gen.generate({ question: 'q', visual: visualTokens(2, HIDDEN) })).rejects.toMatchObject({ code: 'ENGINE_DISPOSED' });
  });
});
