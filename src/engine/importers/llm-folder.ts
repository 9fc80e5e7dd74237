/**
 * Reads a LLaVA-style language model published in the transformers.js layout:
 * `onnx/embed_tokens[_v].onnx`, `onnx/decoder_model_merged[_v].onnx` (taking
 * `inputs_embeds` and a KV cache), optionally `onnx/vision_encoder[_v].onnx`,
 * plus `config.json`, `tokenizer.json`, `tokenizer_config.json` (chat
 * template) or `chat_template.json`.
 *
 * Why: the pack's llm section needs numbers that live in different files —
 * layers, KV heads and head size from `text_config`, the image placeholder
 * from `image_token_index` looked up in the tokenizer, the cache dtype from
 * the decoder's own inputs (fp16 and q4f16 variants differ) — and they must
 * agree with each other, or generation fails far from the cause.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { TwinLensError } from '../../shared/errors.js';
import { compatibleTemplate } from './chat-template-compat.js';
import { type OnnxComponent, type OnnxVariant, pickVariant, readOnnxComponent } from './onnx-component.js';

export interface LlmFolder {
  dir: string;
  variant: OnnxVariant;
  embedTokens: OnnxComponent;
  decoder: OnnxComponent;
  visionEncoder?: OnnxComponent;
  /** Relative to dir. */
  files: { embedTokens: string; decoder: string; tokenizer: string; tokenizerConfig?: string; config: string; visionEncoder?: string; preprocessor?: string };
  chatTemplate?: string;
  imageToken: string;
  imageTokenId?: number;
  stopTokens: string[];
  numLayers: number;
  numKvHeads: number;
  headDim: number;
  hiddenSize: number;
  vocabSize?: number;
  maxLength: number;
  dtype: 'float32' | 'float16';
  architecture?: string;
  notes: string[];
}

interface TextConfig {
  hidden_size?: number;
  num_hidden_layers?: number;
  num_attention_heads?: number;
  num_key_value_heads?: number;
  head_dim?: number;
  vocab_size?: number;
  max_position_embeddings?: number;
}

interface ConfigJson extends TextConfig {
  architectures?: string[];
  model_type?: string;
  image_token_index?: number;
  image_token_id?: number;
  text_config?: TextConfig;
  eos_token_id?: number | number[];
}

function readJson<T>(file: string): T {
  try {
    return JSON.parse(fs.readFileSync(file, 'utf8')) as T;
  } catch (e) {
    throw new TwinLensError('PACK_MANIFEST_INVALID', `${file} cannot be read as JSON: ${(e as Error).message}`, 'Re-download the file');
  }
}

function tokenById(
  tokenizer: { added_tokens?: Array<{ id: number; content: string }>; model?: { vocab?: Record<string, number> | Array<[string, number]> } },
  id: number,
): string | undefined {
  const added = tokenizer.added_tokens?.find((t) => t.id === id);
  if (added) return added.content;
  const vocab = tokenizer.model?.vocab;
  if (vocab && !Array.isArray(vocab)) return Object.entries(vocab).find(([, v]) => v === id)?.[0];
  return undefined;
}

function text(v: unknown): string | undefined {
  if (typeof v === 'string') return v;
  if (v && typeof v === 'object' && typeof (v as { content?: unknown }).content === 'string') return (v as { content: string }).content;
  return undefined;
}

export async function readLlmFolder(dirIn: string, variant?: OnnxVariant): Promise<LlmFolder> {
  const dir = path.resolve(dirIn);
  const need = (rel: string, hint: string) => {
    if (!fs.existsSync(path.join(dir, rel))) throw new TwinLensError('PACK_FILE_MISSING', `${dir} has no ${rel}`, hint);
    return path.join(dir, rel);
  };
  const config = readJson<ConfigJson>(need('config.json', 'Download config.json from the same repository'));
  const tokenizerJson = readJson<Parameters<typeof tokenById>[0]>(need('tokenizer.json', 'Download tokenizer.json from the same repository'));
  const cfgFile = path.join(dir, 'tokenizer_config.json');
  const tokCfg = fs.existsSync(cfgFile) ? readJson<Record<string, unknown>>(cfgFile) : {};
  const onnxDir = fs.existsSync(path.join(dir, 'onnx')) ? path.join(dir, 'onnx') : dir;
  // The embedder and decoder must be the same variant; pick by the decoder.
  const dec = pickVariant(onnxDir, 'decoder_model_merged', variant, 'llm.decoder');
  const emb = pickVariant(
    onnxDir,
    'embed_tokens',
    fs.existsSync(path.join(onnxDir, path.basename(dec.file).replace('decoder_model_merged', 'embed_tokens'))) ? dec.variant : undefined,
    'llm.embedTokens',
  );
  const notes: string[] = [];
  if (emb.variant !== dec.variant) notes.push(`embed_tokens uses the ${emb.variant} variant (no ${dec.variant} file).`);
  const decoder = await readOnnxComponent(dec.file, 'llm.decoder');
  const embedTokens = await readOnnxComponent(emb.file, 'llm.embedTokens');
  if (!decoder.inputs.some((v) => v.name === 'inputs_embeds')) {
    throw new TwinLensError(
      'ONNX_IO_MISMATCH',
      `${dec.file} takes no inputs_embeds (inputs: ${decoder.inputs.map((v) => v.name).join(', ')})`,
      'Visual tokens are spliced into inputs_embeds: use a transformers.js image-text-to-text export',
    );
  }

  const tc: TextConfig = config.text_config ?? config;
  const pastKeys = decoder.inputs.filter((v) => /^past_key_values\.\d+\.key$/.test(v.name));
  const numLayers = tc.num_hidden_layers ?? pastKeys.length;
  if (pastKeys.length && pastKeys.length !== numLayers) {
    throw new TwinLensError(
      'PACK_MANIFEST_INVALID',
      `config.json says ${numLayers} layers but the decoder has ${pastKeys.length} past_key_values inputs`,
      'The config and ONNX files come from different models',
    );
  }
  const cacheDims = pastKeys[0]?.dims;
  const heads = tc.num_attention_heads ?? 0;
  const numKvHeads = tc.num_key_value_heads ?? (typeof cacheDims?.[1] === 'number' ? cacheDims[1] : heads);
  const hiddenSize = tc.hidden_size ?? (typeof decoder.inputs[0]?.dims?.[2] === 'number' ? (decoder.inputs[0].dims[2] as number) : 0);
  const headDim = tc.head_dim ?? (typeof cacheDims?.[3] === 'number' ? cacheDims[3] : heads ? hiddenSize / heads : 0);
  if (!numLayers || !numKvHeads || !headDim || !hiddenSize || !Number.isInteger(headDim)) {
    throw new TwinLensError(
      'PACK_MANIFEST_INVALID',
      `${dir}/config.json lacks num_hidden_layers / num_key_value_heads / hidden_size (text_config)`,
      'Download the config.json that belongs to the ONNX files',
    );
  }
  const cacheType = pastKeys[0]?.elementType;
  const dtype: LlmFolder['dtype'] = cacheType === 'float16' ? 'float16' : 'float32';

  const imageTokenId = config.image_token_index ?? config.image_token_id;
  let imageToken = '<image>';
  if (imageTokenId !== undefined) {
    const t = tokenById(tokenizerJson, imageTokenId);
    if (!t)
      throw new TwinLensError(
        'PACK_MANIFEST_INVALID',
        `image_token_index ${imageTokenId} is not a token of ${dir}/tokenizer.json`,
        'The tokenizer and config come from different models',
      );
    imageToken = t;
  } else notes.push('config.json has no image_token_index; assuming the placeholder "<image>".');

  let chatTemplate: string | undefined;
  if (tokCfg.chat_template === undefined && fs.existsSync(path.join(dir, 'chat_template.json'))) {
    const ct = readJson<{ chat_template?: string }>(path.join(dir, 'chat_template.json')).chat_template;
    if (typeof ct === 'string') chatTemplate = ct;
  }
  const own = typeof tokCfg.chat_template === 'string' ? tokCfg.chat_template : chatTemplate;
  if (!own && !Array.isArray(tokCfg.chat_template)) notes.push('No chat template found; the engine will use its default template.');
  const compat = compatibleTemplate(own);
  if (compat.template) chatTemplate = compat.template;
  if (compat.note) notes.push(compat.note);

  const stop = new Set<string>();
  const eos = text(tokCfg.eos_token);
  if (eos) stop.add(eos);
  const genFile = path.join(dir, 'generation_config.json');
  const gen = fs.existsSync(genFile) ? readJson<{ eos_token_id?: number | number[] }>(genFile) : {};
  for (const id of [gen.eos_token_id ?? config.eos_token_id ?? []].flat()) {
    const t = tokenById(tokenizerJson, id);
    if (t) stop.add(t);
  }

  let visionEncoder: OnnxComponent | undefined;
  let visionFile: string | undefined;
  try {
    const v = pickVariant(onnxDir, 'vision_encoder', undefined, 'llm.visionEncoder');
    visionEncoder = await readOnnxComponent(v.file, 'llm.visionEncoder');
    visionFile = path.relative(dir, v.file);
  } catch {
    // optional
  }
  if (dec.variant !== 'fp32') notes.push(`Using the ${dec.variant} decoder (cache dtype ${dtype}).`);
  const maxPos = tc.max_position_embeddings ?? 2048;
  return {
    dir,
    variant: dec.variant,
    embedTokens,
    decoder,
    ...(visionEncoder ? { visionEncoder } : {}),
    files: {
      embedTokens: path.relative(dir, emb.file),
      decoder: path.relative(dir, dec.file),
      tokenizer: 'tokenizer.json',
      ...(fs.existsSync(cfgFile) ? { tokenizerConfig: 'tokenizer_config.json' } : {}),
      config: 'config.json',
      ...(visionFile ? { visionEncoder: visionFile } : {}),
      ...(visionFile && fs.existsSync(path.join(dir, 'preprocessor_config.json')) ? { preprocessor: 'preprocessor_config.json' } : {}),
    },
    ...(chatTemplate ? { chatTemplate } : {}),
    imageToken,
    ...(imageTokenId !== undefined ? { imageTokenId } : {}),
    stopTokens: [...stop],
    numLayers,
    numKvHeads,
    headDim,
    hiddenSize,
    ...(tc.vocab_size ? { vocabSize: tc.vocab_size } : {}),
    maxLength: Math.max(8, Math.min(maxPos, 4096)),
    dtype,
    ...(config.architectures?.[0] ? { architecture: config.architectures[0] } : {}),
    notes,
  };
}
