/**
 * The generator's behavioural tests, written once and run against any LLM:
 * the tiny graphs built in tiny-llm.ts and the committed fixture pack.
 *
 * Why shared: the properties are the same whatever the weights — the cached
 * path equals full recomputation, maxTokens / stop tokens / cancellation end
 * generation as documented, a projector of the wrong width is refused, and
 * sampling is reproducible from its seed. Running the same suite on a model we
 * build and on a model the training pipeline exported checks both the
 * generator and the contract between them.
 *
 * The context's tokenizer must have no eos token, so that generation runs to
 * maxTokens and the 6-token comparison always has 6 tokens.
 */
import { expect, it } from 'vitest';
import { LlmGenerator, type LlmGenerationSection, type VisualTokens } from '../../../src/engine/llm/generator.js';
import { argmax, mulberry32, uniform01 } from '../../../src/engine/llm/sampler.js';
import type { TextTokenizer } from '../../../src/engine/llm/tokenizer.js';
import { type HostTensor, type OnnxSession, asFloat32, f32, i64 } from '../../../src/engine/onnx/session.js';

export interface LlmContext {
  embedTokens: OnnxSession;
  decoder: OnnxSession;
  /** A tokenizer without eos (see header). */
  tokenizer: TextTokenizer;
  section: LlmGenerationSection;
  hidden: number;
  question: string;
}

/** Deterministic visual tokens in [-scale, scale]. */
export function visualTokens(tokens: number, hidden: number, seed = 11, scale = 1): VisualTokens {
  const next = mulberry32(seed);
  const embeds = Float32Array.from({ length: tokens * hidden }, () => (uniform01(next) * 2 - 1) * scale);
  return { embeds, tokens, hidden };
}

/**
 * Greedy decoding without a KV cache: every step embeds the whole sequence,
 * splices the visual rows and runs the decoder with an empty past. Written
 * against the sessions directly so it shares no code with the cached path
 * beyond the prompt.
 */
export async function greedyByRecomputation(ctx: LlmContext, gen: LlmGenerator, visual: VisualTokens, steps: number): Promise<number[]> {
  const prompt = gen.prompt(ctx.question, visual.tokens);
  const ids = [...prompt.inputIds];
  const out: number[] = [];
  const { numLayers, numKvHeads, headDim } = ctx.section;
  for (let s = 0; s < steps; s++) {
    const embedIds = ids.map((id, i) => (prompt.imagePositions.includes(i) ? 0 : id));
    const emb = await ctx.embedTokens.run({ input_ids: i64([1, ids.length], embedIds) });
    const data = asFloat32(emb.inputs_embeds).slice();
    const H = visual.hidden;
    prompt.imagePositions.forEach((p, k) => data.set(visual.embeds.subarray(k * H, (k + 1) * H), p * H));
    const feeds: Record<string, HostTensor> = {
      inputs_embeds: f32([1, ids.length, H], data),
      attention_mask: i64([1, ids.length], new Array<number>(ids.length).fill(1)),
      position_ids: i64(
        [1, ids.length],
        ids.map((_, i) => i),
      ),
      use_cache_branch: { dims: [1], data: Uint8Array.of(0) },
      num_logits_to_keep: { dims: [], data: BigInt64Array.of(1n) },
    };
    for (let l = 0; l < numLayers; l++) {
      feeds[`past_key_values.${l}.key`] = f32([1, numKvHeads, 0, headDim], new Float32Array(0));
      feeds[`past_key_values.${l}.value`] = f32([1, numKvHeads, 0, headDim], new Float32Array(0));
    }
    const res = await ctx.decoder.run(feeds, ['logits']);
    const [, rows, V] = res.logits.dims;
    const next = argmax(asFloat32(res.logits), (rows - 1) * V, V);
    out.push(next);
    ids.push(next);
  }
  return out;
}

/** Registers the generator tests; call inside a describe block. */
export function generatorSuite(getCtx: () => LlmContext): void {
  const make = (section: Partial<LlmGenerationSection> = {}) => {
    const ctx = getCtx();
    return new LlmGenerator({ embedTokens: ctx.embedTokens, decoder: ctx.decoder, tokenizer: ctx.tokenizer, section: { ...ctx.section, ...section } });
  };
  const visual = () => visualTokens(5, getCtx().hidden);

  it('(a) greedy generation with the KV cache equals full recomputation for 6 tokens', async () => {
    const gen = make();
    const v = visual();
    const cached = await gen.generate({ question: getCtx().question, visual: v, settings: { maxTokens: 6, temperature: 0 } });
    expect(cached.tokens).toBe(6);
    expect(cached.stop).toBe('max-tokens');
    const reference = await greedyByRecomputation(getCtx(), gen, v, 6);
    expect(cached.tokenIds).toEqual(reference);
  });

  it('(b) honours maxTokens and the context length', async () => {
    const gen = make();
    for (const maxTokens of [1, 3]) {
      const r = await gen.generate({ question: getCtx().question, visual: visual(), settings: { maxTokens } });
      expect(r.tokens).toBe(maxTokens);
      expect(r.tokenIds).toHaveLength(maxTokens);
      expect(r.stop).toBe('max-tokens');
    }
    const promptTokens = gen.prompt(getCtx().question, 5).inputIds.length;
    const short = make({ maxLength: promptTokens + 2 });
    const r = await short.generate({ question: getCtx().question, visual: visual(), settings: { maxTokens: 50 } });
    expect(r.tokens).toBe(2);
    expect(r.stop).toBe('max-tokens');
    expect(r.promptTokens).toBe(promptTokens);
  });

  it('(c) abort after the first token returns stop "cancelled" with 1 token and its text', async () => {
    const gen = make();
    const controller = new AbortController();
    const seen: Array<[string, number]> = [];
    const r = await gen.generate({
      question: getCtx().question,
      visual: visual(),
      settings: { maxTokens: 20 },
      signal: controller.signal,
      onToken: (text, id) => {
        seen.push([text, id]);
        controller.abort();
      },
    });
    expect(r.stop).toBe('cancelled');
    expect(r.tokens).toBe(1);
    expect(r.text).toBe(getCtx().tokenizer.decode(r.tokenIds));
    expect(seen[0][1]).toBe(r.tokenIds[0]);

    const before = new AbortController();
    before.abort();
    const none = await gen.generate({ question: getCtx().question, visual: visual(), signal: before.signal });
    expect(none).toMatchObject({ stop: 'cancelled', tokens: 0, text: '' });
  });

  it('(d) a stop token ends generation before it is emitted', async () => {
    const free = await make().generate({ question: getCtx().question, visual: visual(), settings: { maxTokens: 6 } });
    const stopId = free.tokenIds[2];
    const stopToken = getCtx().tokenizer.tokenOf(stopId);
    expect(stopToken).toBeDefined();
    const first = free.tokenIds.indexOf(stopId);
    const r = await make({ stopTokens: [stopToken!] }).generate({ question: getCtx().question, visual: visual(), settings: { maxTokens: 6 } });
    expect(r.stop).toBe('stop-token');
    expect(r.tokenIds).toEqual(free.tokenIds.slice(0, first));
  });

  it('(e) visual tokens of the wrong hidden size are an ONNX_IO_MISMATCH', async () => {
    const gen = make();
    const wrong = visualTokens(5, getCtx().hidden + 3);
    await expect(gen.generate({ question: getCtx().question, visual: wrong })).rejects.toMatchObject({
      code: 'ONNX_IO_MISMATCH',
      message: expect.stringContaining(`hidden size ${getCtx().hidden + 3}`),
    });
  });

  it('(f) seeded sampling is reproducible and depends on the seed', async () => {
    const gen = make();
    const v = visual();
    const run = (sampleSeed: number) =>
      gen.generate({ question: getCtx().question, visual: v, settings: { maxTokens: 8, temperature: 1.5, topP: 0.95, sampleSeed } });
    const a = await run(1);
    const b = await run(1);
    expect(b.tokenIds).toEqual(a.tokenIds);
    expect(b.text).toBe(a.text);
    const others = await Promise.all([2, 3, 4, 5].map(run));
    expect(others.some((o) => o.tokenIds.join() !== a.tokenIds.join())).toBe(true);
  });

  it('streams deltas that add up to the final text and reports progress', async () => {
    const gen = make();
    let streamed = '';
    const ids: number[] = [];
    const phases: string[] = [];
    const r = await gen.generate({
      question: getCtx().question,
      visual: visual(),
      settings: { maxTokens: 6 },
      onToken: (text, id) => {
        streamed += text;
        ids.push(id);
      },
      onProgress: (p) => phases.push(`${p.phase}:${p.tokens}`),
    });
    expect(streamed).toBe(r.text);
    expect(ids).toEqual(r.tokenIds);
    expect(phases).toEqual(['prefill:0', ...r.tokenIds.map((_, i) => `decode:${i + 1}`)]);
    expect(r.prefillMs).toBeGreaterThan(0);
    expect(r.decodeMs).toBeGreaterThan(0);
  });
}
