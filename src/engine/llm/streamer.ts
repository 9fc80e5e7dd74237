/**
 * TextStreamer: turns the growing list of generated token ids into text
 * deltas for the UI, and watches for stop strings.
 *
 * Why decode the whole list each step instead of each token on its own:
 * tokens are not characters. Byte-level BPE splits one emoji or CJK character
 * over several tokens (each alone decodes to U+FFFD), SentencePiece marks word
 * starts with "▁" that only become spaces in context, and WordPiece glues
 * "##" pieces to the previous word. Decoding the full id list and emitting the
 * new suffix gives the same text the final answer will have.
 *
 * Two things are held back until the next token decides them:
 * - trailing U+FFFD (an incomplete multi-byte character);
 * - a tail that could be the beginning of a stop string (so "USER:" is never
 *   half-shown when it turns out to be the stop sequence).
 *
 * Stop strings are for stop "tokens" that are not single tokens of the
 * vocabulary (e.g. "\nUSER:"). Single-token stops are handled by id in the
 * generator and never reach the text (special tokens are skipped in decode).
 *
 * Deltas are best effort if a decoder rewrites earlier text (some clean-up
 * rules do): what was emitted stays, and the final `text` is authoritative.
 */
import type { TextTokenizer } from './tokenizer.js';

const REPLACEMENT = '\uFFFD';

export interface StreamStep {
  /** New text to show, possibly empty. */
  delta: string;
  /** True when a stop string appeared; `text` is cut before it. */
  stopped: boolean;
}

export class TextStreamer {
  private readonly idList: number[] = [];
  private current = '';
  private emittedLength = 0;
  private stoppedAt: string | undefined;

  constructor(
    private readonly tokenizer: TextTokenizer,
    private readonly stopStrings: readonly string[] = [],
  ) {
    this.stopStrings = stopStrings.filter((s) => s.length > 0);
  }

  /** Adds one generated id and returns what can be shown now. */
  push(id: number): StreamStep {
    if (this.stoppedAt !== undefined) return { delta: '', stopped: true };
    this.idList.push(id);
    const decoded = this.tokenizer.decode(this.idList);
    const hit = this.firstStop(decoded);
    if (hit) {
      this.stoppedAt = hit.stop;
      this.current = decoded.slice(0, hit.index);
      return { delta: this.take(this.current), stopped: true };
    }
    this.current = decoded;
    return { delta: this.take(this.safePrefix(decoded)), stopped: false };
  }

  /** Emits whatever was held back (call once generation has ended). */
  flush(): string {
    return this.take(this.current);
  }

  /** The text so far, cut before a stop string if one appeared. */
  get text(): string {
    return this.current;
  }

  get ids(): readonly number[] {
    return this.idList;
  }

  /** The stop string that ended the text, if any. */
  get stopString(): string | undefined {
    return this.stoppedAt;
  }

  private take(visible: string): string {
    if (visible.length <= this.emittedLength) return '';
    const delta = visible.slice(this.emittedLength);
    this.emittedLength = visible.length;
    return delta;
  }

  private firstStop(text: string): { index: number; stop: string } | undefined {
    let best: { index: number; stop: string } | undefined;
    for (const stop of this.stopStrings) {
      const index = text.indexOf(stop);
      if (index >= 0 && (!best || index < best.index)) best = { index, stop };
    }
    return best;
  }

  /** The text without a trailing incomplete character or a possible stop-string start. */
  private safePrefix(text: string): string {
    let end = text.length;
    while (end > 0 && text[end - 1] === REPLACEMENT) end--;
    let hold = 0;
    for (const stop of this.stopStrings) {
      for (let k = Math.min(stop.length - 1, end); k > hold; k--) {
        if (text.slice(end - k, end) === stop.slice(0, k)) {
          hold = k;
          break;
        }
      }
    }
    return text.slice(0, end - hold);
  }
}
