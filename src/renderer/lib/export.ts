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

export function downloadExport(x: ExportInput): void {
  const blob = new Blob([JSON.stringify(buildExport(x), null, 2)], { type: 'application/json' });
  const url = URL.createObjectURL(blob);
  const a = document.createElement('a');
  a.href = url;
  a.download = `twinlens-${x.image.name.replace(/\.[^.]+$/, '').replace(/[^\w.-]+/g, '_') || 'image'}.json`;
  document.body.appendChild(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}
