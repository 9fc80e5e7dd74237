/**
 * CLIP's BPE tokenizer, rebuilt as a Hugging Face `tokenizer.json`.
 *
 * Why: Stable Diffusion ONNX folders ship the text tokenizer the way the slow
 * `CLIPTokenizer` saves it — `tokenizer/vocab.json` + `merges.txt` (+
 * `tokenizer_config.json`, `special_tokens_map.json`) — while the engine's
 * PromptEncoder reads one `tokenizer.json` through @huggingface/tokenizers.
 * This file writes the same pipeline `CLIPTokenizerFast` uses: NFC, collapse
 * whitespace, lowercase; CLIP's regex split then byte-level characters; BPE
 * with `</w>` on each word's last symbol; `<|startoftext|> … <|endoftext|>`
 * added around the prompt. It also reads which id pads the prompt (SD 1.x
 * pads with `<|endoftext|>`, SD 2.x with `!`) and the context length (77).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { TwinLensError } from '../../shared/errors.js';

/** CLIP's pre-tokenizer pattern (contractions, letter runs, single digits, other runs). */
export const CLIP_SPLIT_PATTERN = "'s|'t|'re|'ve|'m|'ll|'d|[\\p{L}]+|[\\p{N}]|[^\\s\\p{L}\\p{N}]+";
export const CLIP_BOS = '<|startoftext|>';
export const CLIP_EOS = '<|endoftext|>';

export interface TextTokenizerFiles {
  /** tokenizer.json content (Hugging Face tokenizers format). */
  tokenizerJson: Record<string, unknown>;
  /** Id that fills the prompt up to maxLength. */
  padTokenId: number;
  /** The text encoder's context length (model_max_length), usually 77. */
  maxLength: number;
  /** 'tokenizer.json' when the folder had one, 'vocab+merges' when converted. */
  source: 'tokenizer.json' | 'vocab+merges';
  vocabSize: number;
}

function fail(file: string, what: string, hint = 'Re-download the tokenizer folder of the Stable Diffusion export'): TwinLensError {
  return new TwinLensError('PACK_MANIFEST_INVALID', `${file}: ${what}`, hint);
}

function readJson(file: string): Record<string, unknown> {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    throw fail(file, `cannot be read (${(e as NodeJS.ErrnoException).code ?? String(e)})`);
  }
  try {
    const v = JSON.parse(text) as unknown;
    if (!v || typeof v !== 'object' || Array.isArray(v)) throw new Error('not a JSON object');
    return v as Record<string, unknown>;
  } catch (e) {
    throw fail(file, `is not valid JSON (${(e as Error).message})`);
  }
}

/** A special token as tokenizer_config.json / special_tokens_map.json write it. */
function tokenText(v: unknown): string | undefined {
  if (typeof v === 'string') return v;
  if (v && typeof v === 'object' && typeof (v as { content?: unknown }).content === 'string') return (v as { content: string }).content;
  return undefined;
}

/** merges.txt lines → "a b" pairs; skips the "#version" header and blank lines. */
export function parseMerges(text: string, file = 'merges.txt'): string[] {
  const out: string[] = [];
  const lines = text.split(/\r?\n/);
  lines.forEach((line, i) => {
    if (!line || (i === 0 && line.startsWith('#version'))) return;
    const parts = line.split(' ');
    if (parts.length !== 2 || !parts[0] || !parts[1]) throw fail(file, `line ${i + 1} is not a merge "left right": ${JSON.stringify(line.slice(0, 60))}`);
    out.push(line);
  });
  return out;
}

/** tokenizer.json equivalent to CLIPTokenizerFast for the given vocabulary and merges. */
export function clipTokenizerJson(vocab: Record<string, number>, merges: string[], unkToken = CLIP_EOS): Record<string, unknown> {
  const id = (t: string) => {
    const v = vocab[t];
    if (typeof v !== 'number') throw fail('vocab.json', `has no "${t}" token`);
    return v;
  };
  const bos = id(CLIP_BOS);
  const eos = id(CLIP_EOS);
  const added = (t: string, i: number) => ({ id: i, content: t, single_word: false, lstrip: false, rstrip: false, normalized: true, special: true });
  return {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: [added(CLIP_BOS, bos), added(CLIP_EOS, eos)],
    normalizer: {
      type: 'Sequence',
      normalizers: [{ type: 'NFC' }, { type: 'Replace', pattern: { Regex: '\\s+' }, content: ' ' }, { type: 'Lowercase' }],
    },
    pre_tokenizer: {
      type: 'Sequence',
      pretokenizers: [
        { type: 'Split', pattern: { Regex: CLIP_SPLIT_PATTERN }, behavior: 'Removed', invert: true },
        { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: false },
      ],
    },
    post_processor: { type: 'RobertaProcessing', sep: [CLIP_EOS, eos], cls: [CLIP_BOS, bos], trim_offsets: false, add_prefix_space: false },
    decoder: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: true, use_regex: true },
    model: {
      type: 'BPE',
      dropout: null,
      unk_token: unkToken,
      continuing_subword_prefix: '',
      end_of_word_suffix: '</w>',
      fuse_unk: false,
      byte_fallback: false,
      vocab,
      merges,
    },
  };
}

/**
 * Reads a text-encoder tokenizer folder (diffusers `tokenizer/`): tokenizer.json
 * when present, else vocab.json + merges.txt converted; the pad id and length
 * from tokenizer_config.json / special_tokens_map.json.
 */
export function readTextTokenizerFolder(dir: string): TextTokenizerFiles {
  const cfgFile = path.join(dir, 'tokenizer_config.json');
  const mapFile = path.join(dir, 'special_tokens_map.json');
  const cfg = fs.existsSync(cfgFile) ? readJson(cfgFile) : {};
  const map = fs.existsSync(mapFile) ? readJson(mapFile) : {};
  const fastFile = path.join(dir, 'tokenizer.json');
  let tokenizerJson: Record<string, unknown>;
  let vocab: Record<string, number>;
  let source: TextTokenizerFiles['source'];
  if (fs.existsSync(fastFile)) {
    tokenizerJson = readJson(fastFile);
    const model = tokenizerJson.model as { vocab?: Record<string, number> } | undefined;
    if (!model?.vocab || typeof model.vocab !== 'object') throw fail(fastFile, 'has no model.vocab');
    vocab = { ...model.vocab };
    for (const t of (tokenizerJson.added_tokens as Array<{ id: number; content: string }> | undefined) ?? []) vocab[t.content] = t.id;
    source = 'tokenizer.json';
  } else {
    const vocabFile = path.join(dir, 'vocab.json');
    const mergesFile = path.join(dir, 'merges.txt');
    if (!fs.existsSync(vocabFile) || !fs.existsSync(mergesFile)) {
      throw new TwinLensError(
        'PACK_FILE_MISSING',
        `${dir} has neither tokenizer.json nor vocab.json + merges.txt`,
        'Point at the tokenizer/ folder of a Stable Diffusion export',
      );
    }
    const raw = readJson(vocabFile);
    vocab = {};
    for (const [k, v] of Object.entries(raw)) {
      if (typeof v !== 'number' || !Number.isInteger(v)) throw fail(vocabFile, `entry ${JSON.stringify(k)} is not an integer id`);
      vocab[k] = v;
    }
    const unk = tokenText(cfg.unk_token) ?? tokenText(map.unk_token) ?? CLIP_EOS;
    tokenizerJson = clipTokenizerJson(vocab, parseMerges(fs.readFileSync(mergesFile, 'utf8'), mergesFile), unk);
    source = 'vocab+merges';
  }
  const pad = tokenText(map.pad_token) ?? tokenText(cfg.pad_token) ?? CLIP_EOS;
  const padTokenId = vocab[pad];
  if (typeof padTokenId !== 'number') throw fail(mapFile, `pad token ${JSON.stringify(pad)} is not in the vocabulary`);
  const declared = Number(cfg.model_max_length);
  // Some configs store a huge sentinel (1e30) for "unlimited"; CLIP's text encoder is 77.
  const maxLength = Number.isInteger(declared) && declared > 0 && declared <= 4096 ? declared : 77;
  return { tokenizerJson, padTokenId, maxLength, source, vocabSize: Object.keys(vocab).length };
}
