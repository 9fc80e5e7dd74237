/**
 * A tiny LLaVA-style LLM written as ONNX graphs from JavaScript, for the
 * generator tests.
 *
 * Why: the generator must be tested against the real onnxruntime-node (no
 * mocks), and its hardest property — the KV-cache path gives exactly what
 * full recomputation gives — needs a decoder with real attention over a
 * growing cache. Building the graphs here (with onnx-proto, random weights
 * from a seeded generator) makes those tests independent of any trained pack.
 *
 * Contract (transformers.js layout, REFERENCE §A3.2):
 *   embed_tokens.onnx          input_ids int64 [1,n] → inputs_embeds [1,n,H]
 *   decoder_model_merged.onnx  inputs_embeds, attention_mask, position_ids,
 *                              past_key_values.{i}.key/value [1,heads,past,d]
 *                              (+ use_cache_branch bool [1], unused)
 *                              → logits [1,n,V], present.{i}.key/value
 * With fp16Io the boundary tensors are float16 and cast inside the graph, so
 * the float16 conversion path (OnnxSession) is exercised too.
 * Each layer: x += softmax(q·kᵀ/√d + causal/padding mask)·v·Wo, with learned
 * absolute position embeddings added to the input.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import onnxProto from 'onnx-proto';
import { mulberry32, uniform01 } from '../../../src/engine/llm/sampler.js';

const { onnx } = onnxProto;
const FLOAT = 1;
const INT64 = 7;
const BOOL = 9;
const FLOAT16 = 10;

export interface TinyLlmSpec {
  vocab: number;
  hidden: number;
  heads: number;
  layers: number;
  maxPositions: number;
  seed: number;
  /** Declare a use_cache_branch input like Optimum's merged decoders. */
  useCacheBranch?: boolean;
  /** float16 inputs_embeds, KV cache and logits at the graph boundary (like fp16 exports); float32 inside. */
  fp16Io?: boolean;
}

export interface TinyLlmFiles {
  dir: string;
  embedTokens: string;
  decoder: string;
  headDim: number;
}

type Dim = number | string;
type NodeSpec = { op: string; inputs: string[]; outputs: string[]; attrs?: Record<string, number | number[]> };

function valueInfo(name: string, elemType: number, dims: Dim[]) {
  return {
    name,
    type: { tensorType: { elemType, shape: { dim: dims.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) } } },
  };
}

function floatInit(name: string, dims: number[], data: Float32Array) {
  return { name, dims, dataType: FLOAT, rawData: new Uint8Array(data.buffer, data.byteOffset, data.byteLength) };
}

function int64Init(name: string, values: number[]) {
  const data = BigInt64Array.from(values, (v) => BigInt(v));
  return { name, dims: [values.length], dataType: INT64, rawData: new Uint8Array(data.buffer) };
}

function node(n: NodeSpec, i: number) {
  const attribute = Object.entries(n.attrs ?? {}).map(([name, v]) =>
    Array.isArray(v) ? { name, type: 7 /* INTS */, ints: v } : Number.isInteger(v) ? { name, type: 2 /* INT */, i: v } : { name, type: 1 /* FLOAT */, f: v },
  );
  return { opType: n.op, input: n.inputs, output: n.outputs, name: `${n.op}_${i}`, attribute };
}

function writeModel(path: string, graph: { nodes: NodeSpec[]; inputs: unknown[]; outputs: unknown[]; inits: unknown[] }): void {
  const model = onnx.ModelProto.fromObject({
    irVersion: 8,
    producerName: 'twinlens-test',
    opsetImport: [{ domain: '', version: 13 }],
    graph: { name: 'g', node: graph.nodes.map(node), input: graph.inputs, output: graph.outputs, initializer: graph.inits },
  });
  writeFileSync(path, onnx.ModelProto.encode(model).finish());
}

/** Writes embed_tokens.onnx and decoder_model_merged.onnx to a fresh temporary folder. */
export function writeTinyLlm(spec: TinyLlmSpec): TinyLlmFiles {
  const { vocab: V, hidden: H, heads, layers } = spec;
  const d = H / heads;
  if (!Number.isInteger(d)) throw new Error('hidden must be a multiple of heads');
  const next = mulberry32(spec.seed);
  const rand = (n: number, scale: number) => Float32Array.from({ length: n }, () => (uniform01(next) * 2 - 1) * scale);
  const dir = mkdtempSync(join(tmpdir(), 'twinlens-tiny-llm-'));

  const table = rand(V * H, 1);
  const io = spec.fp16Io ? FLOAT16 : FLOAT;
  const gather: NodeSpec = { op: 'Gather', inputs: ['embed.weight', 'input_ids'], outputs: [spec.fp16Io ? 'embeds_f32' : 'inputs_embeds'], attrs: { axis: 0 } };
  writeModel(join(dir, 'embed_tokens.onnx'), {
    nodes: spec.fp16Io ? [gather, { op: 'Cast', inputs: ['embeds_f32'], outputs: ['inputs_embeds'], attrs: { to: FLOAT16 } }] : [gather],
    inputs: [valueInfo('input_ids', INT64, [1, 'sequence_length'])],
    outputs: [valueInfo('inputs_embeds', io, [1, 'sequence_length', H])],
    inits: [floatInit('embed.weight', [V, H], table)],
  });

  const nodes: NodeSpec[] = [];
  const inits: unknown[] = [
    floatInit('pos.weight', [spec.maxPositions, H], rand(spec.maxPositions * H, 1.5)),
    floatInit('lm_head.weight', [H, V], rand(H * V, 0.03)),
    floatInit('scale', [], Float32Array.of(1 / Math.sqrt(d))),
    floatInit('zero', [], Float32Array.of(0)),
    floatInit('neg', [], Float32Array.of(-1e9)),
    int64Init('heads_shape', [1, -1, heads, d]),
    int64Init('hidden_shape', [1, -1, H]),
    int64Init('one', [1]),
    int64Init('axis1', [1]),
    int64Init('axis2', [2]),
    { name: 'i0', dims: [], dataType: INT64, rawData: new Uint8Array(BigInt64Array.of(0n).buffer) },
    { name: 'i1', dims: [], dataType: INT64, rawData: new Uint8Array(BigInt64Array.of(1n).buffer) },
  ];
  const add = (op: string, inputs: string[], outputs: string[], attrs?: NodeSpec['attrs']) => {
    nodes.push({ op, inputs, outputs, attrs });
  };

  // x0 = inputs_embeds + pos[position_ids]
  // fp16Io: boundary tensors are cast to float32 on the way in and back on the way out.
  const inner = (name: string) => (spec.fp16Io ? `${name}:f32` : name);
  const castIn = (name: string) => spec.fp16Io && add('Cast', [name], [inner(name)], { to: FLOAT });
  const castOut = (name: string) => spec.fp16Io && add('Cast', [inner(name)], [name], { to: FLOAT16 });
  castIn('inputs_embeds');
  add('Gather', ['pos.weight', 'position_ids'], ['pos_emb'], { axis: 0 });
  add('Add', [inner('inputs_embeds'), 'pos_emb'], ['x0']);
  // allowed[q, k] = key position k ≤ query position and attention_mask[k] = 1
  add('Shape', ['attention_mask'], ['am_shape']);
  add('Gather', ['am_shape', 'one'], ['total_1'], { axis: 0 });
  add('Squeeze', ['total_1'], ['total']);
  add('Range', ['i0', 'total', 'i1'], ['key_pos']);
  add('Unsqueeze', ['position_ids', 'axis2'], ['query_pos']);
  add('LessOrEqual', ['key_pos', 'query_pos'], ['causal']);
  add('Cast', ['attention_mask'], ['am_bool'], { to: BOOL });
  add('Unsqueeze', ['am_bool', 'axis1'], ['am_b']);
  add('And', ['causal', 'am_b'], ['allowed']);
  add('Where', ['allowed', 'zero', 'neg'], ['bias3']);
  add('Unsqueeze', ['bias3', 'axis1'], ['bias']);

  const inputs = [
    valueInfo('inputs_embeds', io, [1, 'sequence_length', H]),
    valueInfo('attention_mask', INT64, [1, 'total_sequence_length']),
    valueInfo('position_ids', INT64, [1, 'sequence_length']),
  ];
  const outputs = [valueInfo('logits', io, [1, 'sequence_length', V])];
  let x = 'x0';
  for (let i = 0; i < layers; i++) {
    const p = `l${i}`;
    for (const w of ['q', 'k', 'v', 'o']) inits.push(floatInit(`${p}.${w}`, [H, H], rand(H * H, 1)));
    const [pastK, pastV, presK, presV] = [`past_key_values.${i}.key`, `past_key_values.${i}.value`, `present.${i}.key`, `present.${i}.value`];
    inputs.push(valueInfo(pastK, io, [1, heads, 'past_sequence_length', d]), valueInfo(pastV, io, [1, heads, 'past_sequence_length', d]));
    outputs.push(valueInfo(presK, io, [1, heads, 'total_sequence_length', d]), valueInfo(presV, io, [1, heads, 'total_sequence_length', d]));
    castIn(pastK);
    castIn(pastV);
    for (const w of ['q', 'k', 'v']) {
      add('MatMul', [x, `${p}.${w}`], [`${p}_${w}_flat`]);
      add('Reshape', [`${p}_${w}_flat`, 'heads_shape'], [`${p}_${w}_4d`]);
      add('Transpose', [`${p}_${w}_4d`], [`${p}_${w}`], { perm: [0, 2, 1, 3] });
    }
    add('Concat', [inner(pastK), `${p}_k`], [inner(presK)], { axis: 2 });
    add('Concat', [inner(pastV), `${p}_v`], [inner(presV)], { axis: 2 });
    castOut(presK);
    castOut(presV);
    add('Transpose', [inner(presK)], [`${p}_kt`], { perm: [0, 1, 3, 2] });
    add('MatMul', [`${p}_q`, `${p}_kt`], [`${p}_raw`]);
    add('Mul', [`${p}_raw`, 'scale'], [`${p}_scaled`]);
    add('Add', [`${p}_scaled`, 'bias'], [`${p}_masked`]);
    add('Softmax', [`${p}_masked`], [`${p}_probs`], { axis: -1 });
    add('MatMul', [`${p}_probs`, inner(presV)], [`${p}_ctx4`]);
    add('Transpose', [`${p}_ctx4`], [`${p}_ctx_t`], { perm: [0, 2, 1, 3] });
    add('Reshape', [`${p}_ctx_t`, 'hidden_shape'], [`${p}_ctx`]);
    add('MatMul', [`${p}_ctx`, `${p}.o`], [`${p}_att`]);
    add('Add', [x, `${p}_att`], [`${p}_out`]);
    x = `${p}_out`;
  }
  add('MatMul', [x, 'lm_head.weight'], [inner('logits')]);
  castOut('logits');
  if (spec.useCacheBranch) inputs.push(valueInfo('use_cache_branch', BOOL, [1]));
  writeModel(join(dir, 'decoder_model_merged.onnx'), { nodes, inputs, outputs, inits });
  return { dir, embedTokens: join(dir, 'embed_tokens.onnx'), decoder: join(dir, 'decoder_model_merged.onnx'), headDim: d };
}
