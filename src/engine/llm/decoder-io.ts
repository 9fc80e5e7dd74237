/**
 * LlmIo: the tensor contract between the generator and the two LLM graphs of
 * the transformers.js layout (REFERENCE §A3.2):
 *
 *   embed_tokens.onnx          input_ids int64 [1,n] → inputs_embeds [1,n,H]
 *   decoder_model_merged.onnx  inputs_embeds [1,n,H], attention_mask int64 [1,past+n],
 *                              position_ids int64 [1,n], past_key_values.{i}.key/value
 *                              [1,kvHeads,past,headDim] (+ use_cache_branch bool [1],
 *                              num_logits_to_keep int64 scalar when declared)
 *                              → logits [1,n|1,V], present.{i}.key/value [1,kvHeads,past+n,headDim]
 *
 * Why a separate module: the contract is checked once, when the generator is
 * built, against the sessions' input/output metadata and the manifest's
 * numLayers / numKvHeads / headDim, so a pack that does not fit fails with an
 * ONNX_IO_MISMATCH that says which name or size is wrong, instead of an ONNX
 * Runtime shape error in the middle of an answer. It also owns the KV cache,
 * which is replaced (never appended to in place) at every step, so the
 * previous step's tensors become garbage as soon as the step returns.
 *
 * dtypes: OnnxSession converts float32 ⇄ float16 from the model's metadata, so
 * fp16 decoders (manifest dtype float16) take the same float32 host tensors.
 */
import { TwinLensError } from '../../shared/errors.js';
import type { LlmSection } from '../../shared/manifest.js';
import { type HostTensor, type OnnxSession, asFloat32, f32, i64 } from '../onnx/session.js';

export type LlmShape = Pick<LlmSection, 'numLayers' | 'numKvHeads' | 'headDim'>;

/** The key/value cache of every layer; `length` = number of positions already seen. */
export interface KvCache {
  readonly length: number;
  readonly keys: HostTensor[];
  readonly values: HostTensor[];
}

export interface DecoderStep {
  /** Logits of the last position, length V (a view into the output). */
  logits: Float32Array;
  cache: KvCache;
}

const KNOWN_DECODER_INPUTS = new Set(['inputs_embeds', 'attention_mask', 'position_ids', 'use_cache_branch', 'num_logits_to_keep', 'logits_to_keep']);
const PAST_RE = /^past_key_values\.(\d+)\.(key|value)$/;

function mismatch(
  message: string,
  hint = 'The pack’s llm section (numLayers, numKvHeads, headDim) or the ONNX export does not follow the contract',
): TwinLensError {
  return new TwinLensError('ONNX_IO_MISMATCH', message, hint);
}

function pickName(session: OnnxSession, names: string[], preferred: string, kind: 'input' | 'output'): string {
  if (names.includes(preferred)) return preferred;
  if (names.length === 1) return names[0];
  throw mismatch(`${session.label}: expected an ${kind} named "${preferred}", the model has ${names.join(', ') || 'none'}`);
}

export class LlmIo {
  readonly embedInput: string;
  readonly embedOutput: string;
  readonly hasPositionIds: boolean;
  readonly hasUseCacheBranch: boolean;
  /** Name of the "keep only the last N logits" input, when the decoder has one. */
  readonly logitsToKeep: string | undefined;
  /** Hidden size H of the embeddings when the metadata fixes it. */
  readonly hiddenSize: number | undefined;

  constructor(
    readonly embedTokens: OnnxSession,
    readonly decoder: OnnxSession,
    readonly shape: LlmShape,
  ) {
    this.embedInput = pickName(embedTokens, embedTokens.inputNames, 'input_ids', 'input');
    this.embedOutput = pickName(embedTokens, embedTokens.outputNames, 'inputs_embeds', 'output');
    const inputs = decoder.inputNames;
    for (const required of ['inputs_embeds', 'attention_mask']) {
      if (!inputs.includes(required)) throw mismatch(`${decoder.label}: the decoder has no input "${required}" (inputs: ${inputs.join(', ')})`);
    }
    if (!decoder.outputNames.includes('logits'))
      throw mismatch(`${decoder.label}: the decoder has no output "logits" (outputs: ${decoder.outputNames.join(', ')})`);
    const unknown = inputs.filter((n) => !KNOWN_DECODER_INPUTS.has(n) && !PAST_RE.test(n));
    if (unknown.length)
      throw mismatch(
        `${decoder.label}: unsupported decoder inputs ${unknown.join(', ')}`,
        'Only LLaVA-style decoders fed with inputs_embeds and a KV cache are supported',
      );
    this.checkCache();
    this.hasPositionIds = inputs.includes('position_ids');
    this.hasUseCacheBranch = inputs.includes('use_cache_branch');
    this.logitsToKeep = inputs.find((n) => n === 'num_logits_to_keep' || n === 'logits_to_keep');
    const fromEmbed = embedTokens.outputs.get(this.embedOutput)?.shape[2];
    const fromDecoder = decoder.inputs.get('inputs_embeds')?.shape[2];
    const fixed = [fromEmbed, fromDecoder].filter((d): d is number => typeof d === 'number' && d > 0);
    if (fixed.length === 2 && fixed[0] !== fixed[1]) {
      throw mismatch(
        `embed_tokens gives hidden size ${fixed[0]} but the decoder takes ${fixed[1]}`,
        'embed_tokens.onnx and decoder_model_merged.onnx come from different models',
      );
    }
    this.hiddenSize = fixed[0];
  }

  /** The decoder must declare exactly numLayers key/value pairs, with matching head count and size. */
  private checkCache(): void {
    const { numLayers, numKvHeads, headDim } = this.shape;
    const label = this.decoder.label;
    const layers = new Set<number>();
    for (const name of this.decoder.inputNames) {
      const m = PAST_RE.exec(name);
      if (m) layers.add(Number(m[1]));
    }
    if (layers.size !== numLayers) {
      throw mismatch(`${label}: the decoder has ${layers.size} past_key_values layers but the manifest says numLayers = ${numLayers}`);
    }
    for (let i = 0; i < numLayers; i++) {
      for (const kind of ['key', 'value'] as const) {
        const meta = this.decoder.inputs.get(`past_key_values.${i}.${kind}`);
        if (!meta) throw mismatch(`${label}: missing decoder input past_key_values.${i}.${kind}`);
        if (!this.decoder.outputNames.includes(`present.${i}.${kind}`)) throw mismatch(`${label}: missing decoder output present.${i}.${kind}`);
        const [, heads, , dim] = meta.shape;
        if (meta.shape.length && meta.shape.length !== 4)
          throw mismatch(`${label}: past_key_values.${i}.${kind} has rank ${meta.shape.length}, expected 4 [batch, kvHeads, past, headDim]`);
        if (typeof heads === 'number' && heads > 0 && heads !== numKvHeads) {
          throw mismatch(`${label}: past_key_values.${i}.${kind} has ${heads} heads but the manifest says numKvHeads = ${numKvHeads}`);
        }
        if (typeof dim === 'number' && dim > 0 && dim !== headDim) {
          throw mismatch(`${label}: past_key_values.${i}.${kind} has head size ${dim} but the manifest says headDim = ${headDim}`);
        }
      }
    }
  }

  /** The cache before the first step: every layer [1, kvHeads, 0, headDim]. */
  emptyCache(): KvCache {
    const { numLayers, numKvHeads, headDim } = this.shape;
    const make = (): HostTensor => f32([1, numKvHeads, 0, headDim], new Float32Array(0));
    return { length: 0, keys: Array.from({ length: numLayers }, make), values: Array.from({ length: numLayers }, make) };
  }

  /** Embeddings [1, n, H] of token ids. */
  async embed(ids: readonly number[]): Promise<{ data: Float32Array; hidden: number }> {
    const out = await this.embedTokens.run({ [this.embedInput]: i64([1, ids.length], ids) }, [this.embedOutput]);
    const t = out[this.embedOutput];
    if (!t || t.dims.length !== 3 || t.dims[0] !== 1 || t.dims[1] !== ids.length) {
      throw mismatch(`${this.embedTokens.label}: expected ${this.embedOutput} [1, ${ids.length}, H], got [${t?.dims.join(', ') ?? 'nothing'}]`);
    }
    return { data: asFloat32(t), hidden: t.dims[2] };
  }

  /**
   * Runs the decoder on `count` new positions (embeddings [1,count,H]) after
   * the cached ones, returning the last position's logits and the new cache.
   */
  async step(embeds: Float32Array, count: number, hidden: number, cache: KvCache): Promise<DecoderStep> {
    const past = cache.length;
    const total = past + count;
    const feeds: Record<string, HostTensor> = {
      inputs_embeds: f32([1, count, hidden], embeds),
      attention_mask: i64([1, total], new Array<number>(total).fill(1)),
    };
    if (this.hasPositionIds)
      feeds.position_ids = i64(
        [1, count],
        Array.from({ length: count }, (_, i) => past + i),
      );
    if (this.hasUseCacheBranch) feeds.use_cache_branch = { dims: [1], data: Uint8Array.of(past > 0 ? 1 : 0) };
    if (this.logitsToKeep) feeds[this.logitsToKeep] = { dims: [], data: BigInt64Array.of(1n) };
    for (let i = 0; i < this.shape.numLayers; i++) {
      feeds[`past_key_values.${i}.key`] = cache.keys[i];
      feeds[`past_key_values.${i}.value`] = cache.values[i];
    }
    const fetches = ['logits'];
    for (let i = 0; i < this.shape.numLayers; i++) fetches.push(`present.${i}.key`, `present.${i}.value`);
    // An fp16 cache goes back to the decoder as raw bits: no float32 round trip per token.
    const out = await this.decoder.run(feeds, fetches, { rawFloat16: (name) => name.startsWith('present.') });

    const logits = out.logits;
    if (!logits || logits.dims.length !== 3 || logits.dims[1] < 1) {
      throw mismatch(`${this.decoder.label}: expected logits [1, n, V], got [${logits?.dims.join(', ') ?? 'nothing'}]`);
    }
    const vocab = logits.dims[2];
    const data = asFloat32(logits);
    const row = data.subarray((logits.dims[1] - 1) * vocab, logits.dims[1] * vocab);
    const keys: HostTensor[] = [];
    const values: HostTensor[] = [];
    for (let i = 0; i < this.shape.numLayers; i++) {
      const k = out[`present.${i}.key`];
      const v = out[`present.${i}.value`];
      for (const [name, t] of [
        [`present.${i}.key`, k],
        [`present.${i}.value`, v],
      ] as const) {
        if (!t || t.dims.length !== 4 || t.dims[2] !== total) {
          throw mismatch(`${this.decoder.label}: expected ${name} with ${total} positions, got [${t?.dims.join(', ') ?? 'nothing'}]`);
        }
      }
      keys.push(k);
      values.push(v);
    }
    // Copy the row when it is a view of a large prefill output, so the [1,n,V] block can be freed.
    const keep = logits.dims[1] > 1 ? row.slice() : row;
    return { logits: keep, cache: { length: total, keys, values } };
  }
}
