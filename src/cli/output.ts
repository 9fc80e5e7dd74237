/**
 * CLI conventions in one place: JSON on stdout with --json, human text
 * otherwise, progress on stderr (a redrawn line on a terminal, plain lines
 * when piped), and a one-line reason plus a non-zero exit on error.
 */
import { toTwinLensError } from '../shared/errors.js';

export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, (_k, v) => (ArrayBuffer.isView(v) ? `<${(v as Float32Array).length} values>` : v), 2)}\n`);
}

export class StderrProgress {
  private last = '';
  private lastAt = 0;
  constructor(private enabled = true) {}

  update(text: string): void {
    if (!this.enabled) return;
    const now = Date.now();
    if (process.stderr.isTTY) {
      if (now - this.lastAt < 80 && !text.endsWith('done')) return;
      process.stderr.write(`\r\x1b[2K${text}`);
    } else if (text !== this.last) process.stderr.write(`${text}\n`);
    this.last = text;
    this.lastAt = now;
  }

  done(): void {
    if (this.enabled && process.stderr.isTTY && this.last) process.stderr.write('\n');
    this.last = '';
  }
}

/** Exit codes: 1 = the request failed, 2 = bad usage or input. */
export function fail(e: unknown): never {
  const err = toTwinLensError(e);
  const usage = ['INVALID_ARGUMENT', 'PACK_NOT_FOUND', 'IMAGE_DECODE_FAILED', 'IMAGE_TOO_LARGE'].includes(err.code);
  process.stderr.write(`twinlens: error [${err.code}]: ${err.oneLine()}\n`);
  process.exit(usage ? 2 : 1);
}

export function parseIntStrict(name: string): (v: string) => number {
  return (v: string) => {
    const n = Number(v);
    if (!Number.isInteger(n)) throw new Error(`${name} must be an integer, got "${v}"`);
    return n;
  };
}

export function parseNumber(name: string): (v: string) => number {
  return (v: string) => {
    const n = Number(v);
    if (!Number.isFinite(n)) throw new Error(`${name} must be a number, got "${v}"`);
    return n;
  };
}
