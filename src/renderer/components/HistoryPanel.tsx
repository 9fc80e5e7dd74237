/**
 * Questions asked about the open image, newest first, with the knobs they
 * ran under and the start of each column's answer. Clicking an entry puts
 * its question and knobs back and asks again; entries persist across
 * restarts (see state/history.ts).
 */
import type { ModeInfo } from '../../shared/contract.js';
import { formatMs } from '../lib/format.js';
import type { HistoryEntry } from '../state/history.js';

interface Props {
  entries: HistoryEntry[];
  modes: ModeInfo[];
  onRerun(e: HistoryEntry): void;
  onRemove(id: string): void;
  onClear(): void;
}

function knobSummary(e: HistoryEntry): string {
  const k = e.knobs;
  const parts: string[] = [];
  if (k.t !== null) parts.push(`t=${k.t}`);
  if (k.guidance !== null) parts.push(`s=${k.guidance}`);
  if (k.tap !== null) parts.push(k.tap);
  if (k.promptSource !== null) parts.push(k.promptSource === 'custom' ? `prompt “${k.customPrompt}”` : `prompt ${k.promptSource}`);
  if (k.seed !== null) parts.push(`seed ${k.seed}`);
  return parts.length ? parts.join(' · ') : 'pack defaults';
}

export function HistoryPanel({ entries, modes, onRerun, onRemove, onClear }: Props) {
  const label = (id: string) => modes.find((m) => m.id === id)?.label ?? id;
  return (
    <section className="history" aria-label="History for this image" data-testid="history">
      <header>
        <h3>History</h3>
        {entries.length > 0 && (
          <button type="button" className="link" onClick={onClear}>
            clear
          </button>
        )}
      </header>
      {entries.length === 0 ? (
        <p className="muted small">Questions you ask about this image appear here, and come back when you open it again.</p>
      ) : (
        <ol>
          {entries.map((e) => (
            <li key={e.id} data-testid="history-entry">
              <button type="button" className="history-item" onClick={() => onRerun(e)} title="Ask again with these settings">
                <span className="history-q">{e.question}</span>
                <span className="muted small">
                  {new Date(e.at).toLocaleString()} · {knobSummary(e)}
                </span>
                {Object.entries(e.answers).map(([mode, a]) => (
                  <span key={mode} className="history-a small">
                    <b>{label(mode)}:</b> {a.error ? `error: ${a.error}` : a.text.slice(0, 80) || '(empty)'} <i className="muted">{formatMs(a.ms)}</i>
                  </span>
                ))}
              </button>
              <button type="button" className="link small" onClick={() => onRemove(e.id)} aria-label="Remove from history">
                ×
              </button>
            </li>
          ))}
        </ol>
      )}
    </section>
  );
}
