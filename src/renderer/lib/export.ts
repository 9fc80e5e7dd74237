/**
 * Export: what was asked about the open image, as one JSON file — the pack,
 * the knobs, the answers now on screen (with times and stop reasons), and
 * the image's history. A download works the same in a browser and in
 * Electron (which shows its save dialog), so no host API is needed.
 */
import type { PackInfo } from '../../shared/contract.js';
import type { HistoryEntry } from '../state/history.js';
import type { Knobs } from '../state/settings.js';
import type { ColumnRun } from '../state/use-ask.js';
import type { LoadedImage } from './image-file.js';

export interface ExportInput {
  image: LoadedImage;
  pack: PackInfo | undefined;
  knobs: Knobs;
  columns: Record<string, ColumnRun>;
  history: HistoryEntry[];
  question: string | undefined;
}

export function buildExport(x: ExportInput): object {
  return {
    format: 'twinlens-export',
    version: 1,
    exportedAt: new Date().toISOString(),
    image: { name: x.image.name, width: x.image.width, height: x.image.height, bytes: x.image.bytes.byteLength, hash: x.image.hash },
    pack: x.pack ? { name: x.pack.name, dir: x.pack.dir, defaults: x.pack.defaults } : undefined,
    knobs: x.knobs,
    current: {
      question: x.question,
      answers: Object.fromEntries(
        Object.entries(x.columns).map(([mode, c]) => [mode, { status: c.status, text: c.text, tokens: c.tokens, ms: c.ms, stop: c.stop, error: c.error }]),
      ),
    },
    history: x.history,
  };
}

/** The current question's answers side by side, with the settings that produced them, as Markdown. */
export function buildMarkdown(x: ExportInput): string {
  const cell = (s: string) =>
    s
      .replace(/\|/g, '\\|')
      .replace(/\s*\n\s*/g, ' ')
      .trim();
  const lines = [`# ${cell(x.question ?? '(no question)')}`, ''];
  lines.push(`- image: ${x.image.name} (${x.image.width}×${x.image.height}, sha256 ${x.image.hash.slice(0, 12)}…)`);
  if (x.pack) lines.push(`- pack: ${x.pack.name}`);
  const d = x.pack?.defaults;
  const k = x.knobs;
  const setting = (name: string, v: unknown, dflt: unknown) => `${name} ${v ?? dflt ?? 'default'}${v == null ? ' (pack default)' : ''}`;
  lines.push(
    `- settings: ${[
      setting('t', k.t, d?.t),
      setting('guidance', k.guidance, d?.guidance),
      setting('tap', k.tap, d?.tap),
      setting('prompt', k.promptSource === 'custom' ? `"${k.customPrompt}"` : k.promptSource, d?.promptSource),
      setting('seed', k.seed, d?.seed),
      setting('ensemble', k.ensemble, d?.ensemble),
      `temperature ${k.temperature ?? 0}`,
      `max tokens ${k.maxTokens ?? 'auto'}`,
    ].join(' · ')}`,
    '',
    '| mode | answer | tokens | time |',
    '|---|---|---|---|',
  );
  for (const [mode, c] of Object.entries(x.columns)) {
    const text = c.status === 'error' ? `error: ${c.error?.message ?? ''}` : c.status === 'stopped' ? `${c.text} (stopped)` : c.text;
    lines.push(`| ${mode} | ${cell(text)} | ${c.tokens} | ${c.ms === undefined ? '' : `${Math.round(c.ms)} ms`} |`);
  }
  return `${lines.join('\n')}\n`;
}

export function downloadExport(x: ExportInput, format: 'json' | 'md' = 'json'): void {
  const blob =
    format === 'md'
      ? new Blob([buildMarkdown(x)], { type: 'text/markdown' })
      : new Blob([JSON.stringify(buildExport(x), null, 2)], { type: 'application/json' });
  const url = URL.createObjectURL(blob);
  const a = document.createElement('a');
  a.href = url;
  a.download = `twinlens-${x.image.name.replace(/\.[^.]+$/, '').replace(/[^\w.-]+/g, '_') || 'image'}.${format}`;
  document.body.appendChild(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}
