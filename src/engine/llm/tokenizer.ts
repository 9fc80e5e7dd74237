/**
 * TextTokenizer: the LLM's tokenizer, loaded from a pack's Hugging Face
 * `tokenizer.json` and `tokenizer_config.json`.
 *
 * Why a wrapper instead of using @huggingface/tokenizers directly:
 * - Pack files come from users. A missing file, broken JSON or an unsupported
 *   model type must end in a TwinLensError that names the file and the fault,
 *   not in a TypeError deep inside the library.
 * - tokenizer_config.json spells special tokens either as strings or as
 *   `{content: "..."}` objects (AddedToken dumps); the library and the chat
 *   template want plain strings, so they are normalised here once.
 * - The library has no WordLevel model (whole-word vocabularies, which small
 *   trained tokenizers often use). WordLevel is exactly WordPiece whose
 *   continuation prefix never occurs in the vocabulary: a word is either in the
 *   vocabulary whole or becomes the unknown token. We load it that way.
 * - Generation needs a few things the library spells awkwardly: ids of special
 *   tokens (image placeholder, stop tokens, eos), decoding an empty list, and
 *   encoding without special tokens as the default.
 */
import { readFile } from 'node:fs/promises';
import { Tokenizer } from '@huggingface/tokenizers';
import { TwinLensError } from '../../shared/errors.js';

/** tokenizer_config.json as read: every field is optional and loosely typed. */
export type TokenizerConfigJson = Record<string, unknown>;

/** Where the tokenizer came from, for error messages. */
export interface TokenizerSource {
  tokenizer: string;
  config?: string;
}

const SPECIAL_FIELDS = ['bos_token', 'eos_token', 'pad_token', 'unk_token', 'sep_token', 'cls_token', 'mask_token'] as const;
const SUPPORTED_MODELS = ['BPE', 'WordPiece', 'Unigram', 'WordLevel'];
/** A continuation prefix no vocabulary contains: turns WordPiece into WordLevel. */
const WORDLEVEL_PREFIX = '\u0000twinlens-wordlevel\u0000';

/** A special token as written in tokenizer_config.json: "<s>", {content: "<s>", …} or null. */
export function specialTokenText(value: unknown): string | undefined {
  if (typeof value === 'string') return value;
  if (value && typeof value === 'object' && typeof (value as { content?: unknown }).content === 'string') {
    return (value as { content: string }).content;
  }
  return undefined;
}

function invalid(file: string, what: string, hint?: string): TwinLensError {
  return new TwinLensError(
    'PACK_MANIFEST_INVALID',
    `${file}: ${what}`,
    hint ?? 'Re-export the tokenizer with Hugging Face tokenizers / transformers (save_pretrained)',
  );
}

async function readJsonObject(path: string, label: string): Promise<Record<string, unknown>> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'file not found' : code === 'EISDIR' ? 'is a directory, not a file' : `cannot be read (${code ?? String(e)})`;
    throw invalid(path, `${label} ${why}`, 'Check the llm section of pack.json and that the file is in the pack folder');
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (e) {
    throw invalid(path, `${label} is not valid JSON (${(e as Error).message})`);
  }
  if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw invalid(path, `${label} must contain a JSON object, found ${Array.isArray(parsed) ? 'an array' : typeof parsed}`);
  }
  return parsed as Record<string, unknown>;
}

/** Checks the parts of tokenizer.json the library dereferences without checking, and adapts WordLevel. */
function prepareTokenizerJson(json: Record<string, unknown>, file: string): Record<string, unknown> {
  const model = json.model as Record<string, unknown> | undefined;
  if (!model || typeof model !== 'object') throw invalid(file, 'tokenizer.json has no "model" object');
  const type = typeof model.type === 'string' ? model.type : undefined;
  if (type !== undefined && !SUPPORTED_MODELS.includes(type)) {
    throw invalid(file, `tokenizer model type "${type}" is not supported (supported: ${SUPPORTED_MODELS.join(', ')})`);
  }
  if (!model.vocab || typeof model.vocab !== 'object') throw invalid(file, `tokenizer model${type ? ` (${type})` : ''} has no "vocab"`);
  if (type === 'BPE' && !Array.isArray(model.merges)) throw invalid(file, 'BPE tokenizer model has no "merges" list');
  const addedTokens = json.added_tokens ?? [];
  if (!Array.isArray(addedTokens)) throw invalid(file, '"added_tokens" must be a list');
  for (const [i, t] of addedTokens.entries()) {
    const ok = t && typeof t === 'object' && typeof (t as { id?: unknown }).id === 'number' && typeof (t as { content?: unknown }).content === 'string';
    if (!ok) throw invalid(file, `added_tokens[${i}] needs a numeric "id" and a string "content"`);
  }
  const out: Record<string, unknown> = {
    normalizer: null,
    pre_tokenizer: null,
    post_processor: null,
    decoder: null,
    ...json,
    added_tokens: addedTokens,
  };
  if (type === 'WordLevel') {
    out.model = {
      type: 'WordPiece',
      vocab: model.vocab,
      unk_token: model.unk_token,
      continuing_subword_prefix: WORDLEVEL_PREFIX,
      max_input_chars_per_word: Number.MAX_SAFE_INTEGER,
    };
  }
  return out;
}

/** Special-token fields as plain strings, so the library and templates can use them. */
function normaliseConfig(config: TokenizerConfigJson, file: string): TokenizerConfigJson {
  const out: TokenizerConfigJson = { ...config };
  for (const field of SPECIAL_FIELDS) {
    if (config[field] === undefined || config[field] === null) {
      delete out[field];
      continue;
    }
    const text = specialTokenText(config[field]);
    if (text === undefined) throw invalid(file, `"${field}" must be a string or an object with "content"`);
    out[field] = text;
  }
  const extra = config.additional_special_tokens;
  if (extra !== undefined && extra !== null) {
    if (!Array.isArray(extra)) throw invalid(file, '"additional_special_tokens" must be a list');
    out.additional_special_tokens = extra.map((t, i) => {
      const text = specialTokenText(t);
      if (text === undefined) throw invalid(file, `additional_special_tokens[${i}] must be a string or an object with "content"`);
      return text;
    });
  }
  return out;
}

/** The chat template stored in tokenizer_config.json: a string, or a list of named templates. */
function configChatTemplate(config: TokenizerConfigJson, file: string): string | undefined {
  const t = config.chat_template;
  if (t === undefined || t === null) return undefined;
  if (typeof t === 'string') return t;
  if (Array.isArray(t)) {
    const named = t.filter((x): x is { name: string; template: string } => !!x && typeof x === 'object' && typeof x.template === 'string');
    return (named.find((x) => x.name === 'default') ?? named[0])?.template;
  }
  throw invalid(file, '"chat_template" must be a string or a list of {name, template}');
}

export class TextTokenizer {
  private readonly tok: Tokenizer;
  private vocabSizeCache: number | undefined;
  /** tokenizer_config.json with special tokens as strings. */
  readonly config: TokenizerConfigJson;
  readonly bosToken: string | undefined;
  readonly eosToken: string | undefined;
  readonly chatTemplate: string | undefined;

  private constructor(
    tok: Tokenizer,
    config: TokenizerConfigJson,
    chatTemplate: string | undefined,
    readonly source: TokenizerSource,
  ) {
    this.tok = tok;
    this.config = config;
    this.bosToken = config.bos_token as string | undefined;
    this.eosToken = config.eos_token as string | undefined;
    this.chatTemplate = chatTemplate;
  }

  /** Reads tokenizer.json and (optionally) tokenizer_config.json from absolute paths. */
  static async load(tokenizerPath: string, configPath?: string): Promise<TextTokenizer> {
    const json = await readJsonObject(tokenizerPath, 'tokenizer.json');
    const config = configPath ? await readJsonObject(configPath, 'tokenizer_config.json') : {};
    return TextTokenizer.fromObjects(json, config, { tokenizer: tokenizerPath, config: configPath });
  }

  /** Builds from already-parsed objects (tests, packs that embed the tokenizer). */
  static fromObjects(
    tokenizerJson: unknown,
    config: unknown = {},
    source: TokenizerSource = { tokenizer: 'tokenizer.json', config: 'tokenizer_config.json' },
  ): TextTokenizer {
    const cfgFile = source.config ?? 'tokenizer_config.json';
    if (!tokenizerJson || typeof tokenizerJson !== 'object' || Array.isArray(tokenizerJson))
      throw invalid(source.tokenizer, 'tokenizer.json must be a JSON object');
    if (!config || typeof config !== 'object' || Array.isArray(config)) throw invalid(cfgFile, 'tokenizer_config.json must be a JSON object');
    const prepared = prepareTokenizerJson(tokenizerJson as Record<string, unknown>, source.tokenizer);
    const cfg = normaliseConfig(config as TokenizerConfigJson, cfgFile);
    const template = configChatTemplate(cfg, cfgFile);
    let tok: Tokenizer;
    try {
      tok = new Tokenizer(prepared, cfg);
    } catch (e) {
      throw invalid(source.tokenizer, `the tokenizer could not be built: ${(e as Error).message}`);
    }
    return new TextTokenizer(tok, cfg, template, source);
  }

  /** Token ids of `text`, without special tokens added around it (the chat template already has them). */
  encode(text: string): number[] {
    const ids: Array<number | undefined> = this.tok.encode(text, { add_special_tokens: false }).ids;
    if (ids.some((id) => typeof id !== 'number')) {
      throw new TwinLensError(
        'INVALID_ARGUMENT',
        'The text contains pieces the tokenizer does not know, and it has no unknown token',
        `Tokenizer: ${this.source.tokenizer}`,
      );
    }
    return ids as number[];
  }

  /** Text of `ids`; special tokens are dropped unless skipSpecial is false. An empty list gives "". */
  decode(ids: readonly number[], opts: { skipSpecial?: boolean } = {}): string {
    if (ids.length === 0) return '';
    const text: string = this.tok.decode([...ids], { skip_special_tokens: opts.skipSpecial ?? true });
    return text;
  }

  /** Id of a whole token (special or ordinary vocabulary entry), or undefined. */
  idOf(token: string): number | undefined {
    const id: number | undefined = this.tok.token_to_id(token);
    return id;
  }

  /** Like idOf, but a missing token is a pack error naming what it was needed for. */
  requireId(token: string, purpose: string): number {
    const id = this.idOf(token);
    if (id === undefined) {
      throw invalid(
        this.source.tokenizer,
        `${purpose} "${token}" is not a token of this tokenizer`,
        'Add it to the tokenizer (added_tokens) or fix the llm section of pack.json',
      );
    }
    return id;
  }

  /** Token string of an id, or undefined for ids outside the vocabulary. */
  tokenOf(id: number): string | undefined {
    const token: string | undefined = this.tok.id_to_token(id);
    return token;
  }

  tokensOf(ids: readonly number[]): Array<string | undefined> {
    return ids.map((id) => this.tokenOf(id));
  }

  /** Id of the end-of-sequence token named in tokenizer_config.json, when it exists. */
  get eosId(): number | undefined {
    return this.eosToken === undefined ? undefined : this.idOf(this.eosToken);
  }

  /** Number of ids (vocabulary plus added tokens). */
  get vocabSize(): number {
    if (this.vocabSizeCache === undefined) {
      const vocab: Map<string, number> = this.tok.get_vocab(true);
      this.vocabSizeCache = vocab.size;
    }
    return this.vocabSizeCache;
  }
}
