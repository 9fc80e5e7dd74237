/**
 * Turns an SD prompt (normally the user's question) into encoder_hidden_states:
 * tokenise with the pack's text tokenizer (start/end tokens from its
 * post-processor), truncate to the encoder's length keeping the end token,
 * pad, and run the text encoder. Results are cached per prompt because the
 * same question is re-used across timesteps, taps and answer modes.
 */
import * as fs from 'node:fs';
import { Tokenizer } from '@huggingface/tokenizers';
import { TwinLensError } from '../../shared/errors.js';
import type { OnnxSession } from '../onnx/session.js';
import { asFloat32 } from '../onnx/session.js';

export interface EncodedPrompt {
  text: string;
  /** Token strings before padding (start and end tokens included). */
  tokens: string[];
  ids: number[];
  /** [1, maxLength, hidden]. */
  hidden: Float32Array;
  hiddenSize: number;
  truncated: boolean;
}

export class PromptEncoder {
  private tokenizer: Tokenizer;
  private cache = new Map<string, EncodedPrompt>();

  constructor(
    tokenizerPath: string,
    private session: () => Promise<OnnxSession>,
    readonly maxLength: number,
    readonly padId: number,
    private outputName: string,
  ) {
    let json: unknown;
    try {
      json = JSON.parse(fs.readFileSync(tokenizerPath, 'utf8'));
    } catch (e) {
      throw new TwinLensError(
        'PACK_MANIFEST_INVALID',
        `text tokenizer ${tokenizerPath} is unreadable: ${(e as Error).message}`,
        'Use a Hugging Face tokenizer.json',
      );
    }
    try {
      this.tokenizer = new Tokenizer(json as object, {});
    } catch (e) {
      throw new TwinLensError(
        'PACK_MANIFEST_INVALID',
        `text tokenizer ${tokenizerPath} is not supported: ${(e as Error).message}`,
        'Use a BPE, WordPiece or Unigram tokenizer.json',
      );
    }
  }

  /** Token ids padded/truncated to maxLength, as the Python reference does. */
  tokenize(text: string): { ids: number[]; tokens: string[]; truncated: boolean } {
    const enc = this.tokenizer.encode(text);
    let ids = enc.ids;
    let tokens = enc.tokens;
    const truncated = ids.length > this.maxLength;
    if (truncated) {
      ids = [...ids.slice(0, this.maxLength - 1), ids[ids.length - 1]];
      tokens = [...tokens.slice(0, this.maxLength - 1), tokens[tokens.length - 1]];
    }
    const padded = ids.concat(new Array(this.maxLength - ids.length).fill(this.padId));
    return { ids: padded, tokens, truncated };
  }

  clearCache(): void {
    this.cache.clear();
  }

  async encode(text: string): Promise<EncodedPrompt> {
    const hit = this.cache.get(text);
    if (hit) return hit;
    const { ids, tokens, truncated } = this.tokenize(text);
    const s = await this.session();
    const out = await s.run({ input_ids: { dims: [1, this.maxLength], data: Int32Array.from(ids) } }, [this.outputName]);
    const t = out[this.outputName];
    if (!t || t.dims.length !== 3 || t.dims[1] !== this.maxLength) {
      throw new TwinLensError(
        'ONNX_IO_MISMATCH',
        `text encoder output "${this.outputName}" has shape [${t?.dims.join(',')}], expected [1, ${this.maxLength}, hidden]`,
        'Check textEncoder.maxLength and textEncoder.output in pack.json',
      );
    }
    const result: EncodedPrompt = { text, tokens, ids, hidden: asFloat32(t), hiddenSize: t.dims[2], truncated };
    if (this.cache.size > 64) this.cache.delete(this.cache.keys().next().value!);
    this.cache.set(text, result);
    return result;
  }
}
