/**
 * LlmGenerator on the committed tiny fixture pack (test/fixtures/packs/tiny),
 * exported by the training pipeline from PyTorch.
 *
 * Two kinds of check:
 * - the shared behavioural suite (cache = recomputation, maxTokens, cancel,
 *   stop token, wrong hidden size, seeded sampling) on the pack's own LLM;
 * - agreement with the reference framework: for every answer mode in
 *   golden.json, the rendered prompt text and ids, the expanded length and the
 *   greedy token ids / text, given the golden projected visual tokens.
 *
 * Skipped, with the missing path in the suite name, when the fixture is absent.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { LlmGenerator } from '../../../src/engine/llm/generator.js';
import { TextTokenizer } from '../../../src/engine/llm/tokenizer.js';
import { OnnxSession } from '../../../src/engine/onnx/session.js';
import { LlmSection } from '../../../src/shared/manifest.js';
import { type LlmContext, generatorSuite } from './generator-suite.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
const PACK = join(ROOT, 'test/fixtures/packs/tiny');
const NEEDED = ['pack.json', 'llm/embed_tokens.onnx', 'llm/decoder_model_merged.onnx', 'llm/tokenizer.json', 'llm/tokenizer_config.json'];
const missing = NEEDED.map((p) => join(PACK, p)).filter((p) => !existsSync(p));
const GOLDEN = join(PACK, 'golden/golden.json');

interface GoldenMode {
  question: string;
  visual_embeds: string;
  prompt_ids: number[];
  num_visual_tokens: number;
  expanded_length: number;
  generated_ids: number[];
  text: string;
}

/** Reads a little-endian float32 .npy file (format 1.0–3.0, C order). */
function readNpyF32(path: string): { shape: number[]; data: Float32Array } {
  const buf = readFileSync(path);
  if (buf.toString('latin1', 1, 6) !== 'NUMPY') throw new Error(`${path}: not an .npy file`);
  const major = buf[6];
  const headerLen = major === 1 ? buf.readUInt16LE(8) : buf.readUInt32LE(8);
  const start = (major === 1 ? 10 : 12) + headerLen;
  const header = buf.toString('latin1', major === 1 ? 10 : 12, start);
  if (!/'descr':\s*'<f4'/.test(header) || /'fortran_order':\s*True/.test(header)) throw new Error(`${path}: expected C-order <f4, got ${header}`);
  const shape = (/'shape':\s*\(([^)]*)\)/.exec(header)?.[1] ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)
    .map(Number);
  const count = shape.reduce((a, b) => a * b, 1);
  const data = new Float32Array(count);
  new Uint8Array(data.buffer).set(buf.subarray(start, start + count * 4));
  return { shape, data };
}

const title = missing.length
  ? `LlmGenerator on the tiny fixture pack — skipped: missing fixture ${missing.join(', ')}`
  : 'LlmGenerator on the tiny fixture pack';

describe.skipIf(missing.length > 0)(title, () => {
  let embedTokens: OnnxSession;
  let decoder: OnnxSession;
  let section: LlmSection;
  let tokenizer: TextTokenizer;
  let ctx: LlmContext;

  beforeAll(async () => {
    const manifest = JSON.parse(readFileSync(join(PACK, 'pack.json'), 'utf8')) as { llm: unknown };
    section = LlmSection.parse(manifest.llm);
    embedTokens = await OnnxSession.open(join(PACK, section.embedTokens.path), { provider: 'cpu', label: 'tiny llm.embed_tokens', threads: 1 });
    decoder = await OnnxSession.open(join(PACK, section.decoder.path), { provider: 'cpu', label: 'tiny llm.decoder', threads: 1 });
    const tokPath = join(PACK, section.tokenizer);
    const cfgPath = join(PACK, section.tokenizerConfig ?? 'llm/tokenizer_config.json');
    tokenizer = await TextTokenizer.load(tokPath, cfgPath);
    const cfg = JSON.parse(readFileSync(cfgPath, 'utf8')) as Record<string, unknown>;
    const noEos = TextTokenizer.fromObjects(JSON.parse(readFileSync(tokPath, 'utf8')), { ...cfg, eos_token: null });
    const hidden = embedTokens.outputs.get('inputs_embeds')?.shape[2];
    const probe =
      hidden === undefined || typeof hidden !== 'number'
        ? (await embedTokens.run({ input_ids: { dims: [1, 1], data: BigInt64Array.of(0n) } })).inputs_embeds.dims[2]
        : hidden;
    ctx = { embedTokens, decoder, tokenizer: noEos, section: { ...section, stopTokens: [] }, hidden: probe, question: 'what colour is the circle' };
  });
  afterAll(() => {
    embedTokens?.dispose();
    decoder?.dispose();
  });

  describe('behaviour', () => {
    generatorSuite(() => ctx);
  });

  describe.skipIf(!existsSync(GOLDEN))(existsSync(GOLDEN) ? 'agreement with golden.json' : `golden — skipped: missing fixture ${GOLDEN}`, () => {
    const golden = existsSync(GOLDEN) ? (JSON.parse(readFileSync(GOLDEN, 'utf8')) as { llm_prompt_text?: string; modes?: Record<string, GoldenMode> }) : {};
    const modes = Object.entries(golden.modes ?? {});

    it('golden.json lists answer modes', () => {
      expect(modes.length).toBeGreaterThan(0);
    });

    for (const [mode, g] of modes) {
      it(`mode ${mode}: prompt and greedy tokens match the reference`, async () => {
        const gen = new LlmGenerator({ embedTokens, decoder, tokenizer, section });
        const prompt = gen.prompt(g.question, g.num_visual_tokens);
        if (golden.llm_prompt_text !== undefined) expect(prompt.text).toBe(golden.llm_prompt_text);
        expect(tokenizer.encode(prompt.text)).toEqual(g.prompt_ids);
        expect(prompt.inputIds).toHaveLength(g.expanded_length);

        const npy = readNpyF32(join(dirname(GOLDEN), g.visual_embeds));
        const [tokens, hidden] = npy.shape.slice(-2);
        expect(tokens).toBe(g.num_visual_tokens);
        const r = await gen.generate({
          question: g.question,
          visual: { embeds: npy.data, tokens, hidden },
          settings: { maxTokens: g.generated_ids.length, temperature: 0 },
        });
        // The reference generated a fixed number of tokens; ours stops at eos / a stop token, so compare up to there.
        const stopAt = g.generated_ids.findIndex((id) => gen.eosIds.has(id) || gen.stopIds.has(id));
        const expected = stopAt < 0 ? g.generated_ids : g.generated_ids.slice(0, stopAt);
        expect(r.tokenIds).toEqual(expected);
        if (stopAt < 0) expect(r.text).toBe(g.text);
      });
    }
  });
});
