/**
 * Formatting helpers for the status bar, answer columns and history:
 * durations, byte sizes, hashes of image bytes (history keys) and the clean
 * display form of text-encoder tokens.
 */

export function formatMs(ms: number | undefined): string {
  if (ms === undefined || !Number.isFinite(ms)) return '';
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(ms < 10_000 ? 2 : 1)} s`;
  const m = Math.floor(ms / 60_000);
  return `${m} min ${Math.round((ms % 60_000) / 1000)} s`;
}

export function formatBytes(n: number | undefined): string {
  if (n === undefined || !Number.isFinite(n)) return '–';
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = n;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u += 1;
  }
  return `${v.toFixed(v < 10 && u > 0 ? 1 : 0)} ${units[u]}`;
}

/**
 * FNV-1a (64-bit, as two 32-bit halves) over the image bytes: a fast,
 * synchronous key for per-image history. crypto.subtle would need a secure
 * context, which a remote http:// web-mode URL is not.
 */
export function hashBytes(bytes: Uint8Array): string {
  let h1 = 0x811c9dc5;
  let h2 = 0xcbf29ce4;
  for (let i = 0; i < bytes.length; i++) {
    h1 ^= bytes[i];
    h1 = Math.imul(h1, 0x01000193) >>> 0;
    h2 ^= bytes[bytes.length - 1 - i];
    h2 = Math.imul(h2, 0x01000193) >>> 0;
  }
  return h1.toString(16).padStart(8, '0') + h2.toString(16).padStart(8, '0') + bytes.length.toString(16);
}

/** Special tokens of CLIP-style and LLaMA-style tokenizers: no pixels to attend to. */
const SPECIAL = /^(<\|[^|]*\|>|<\/?s>|<pad>|<unk>|\[(CLS|SEP|PAD)\])$/i;

export function isSpecialToken(t: string): boolean {
  return SPECIAL.test(t.trim());
}

/** "cube</w>" → "cube", "Ġcube" / "▁cube" → "cube". */
export function displayToken(t: string): string {
  return (
    t
      .replace(/<\/w>$/, '')
      .replace(/^[Ġ▁]/, '')
      .trim() || t
  );
}

/**
 * "n tokens · prefill X ms · Y tok/s": the decode rate counts tokens 2…n over the time after the
 * first token (the first comes out of the prompt pass, whose time is the prefill). Dividing all
 * tokens by the mode's wall time showed 5 tok/s for a one-token answer.
 */
export function answerSpeed(run: { tokens: number; ms?: number; prefillMs?: number; decodeMs?: number }): string {
  const parts = [`${run.tokens} token${run.tokens === 1 ? '' : 's'}`];
  if (run.prefillMs !== undefined) parts.push(`prefill ${Math.round(run.prefillMs)} ms`);
  if (run.decodeMs !== undefined && run.tokens > 1 && run.decodeMs > 0) parts.push(`${(((run.tokens - 1) * 1000) / run.decodeMs).toFixed(1)} tok/s`);
  return parts.join(' · ');
}
