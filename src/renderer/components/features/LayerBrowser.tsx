/**
 * Every tap the open pack offers, the study's named layers first (★), then
 * the rest grouped down / mid / up. Resolution and channel count appear once
 * the engine has returned a map for that tap (the pack does not list shapes
 * before a run); unavailable taps stay visible, disabled, with the reason.
 */
import type { TapInfo } from '../../../shared/contract.js';

export interface TapShape {
  height: number;
  width: number;
  channels?: number;
}

interface Props {
  taps: TapInfo[];
  selected: string;
  onSelect(alias: string): void;
  shapes: Record<string, TapShape>;
}

const BLOCK_ORDER: Record<string, number> = { D: 0, M: 1, U: 2 };
const BLOCK_NAME: Record<string, string> = { D: 'down', M: 'mid', U: 'up' };

export function blockOf(alias: string): string {
  return BLOCK_NAME[alias.charAt(0)] ?? 'other';
}

/** Study layers first, then down → mid → up, then by name. */
export function orderTaps(taps: TapInfo[]): TapInfo[] {
  return [...taps].sort((a, b) => {
    if (a.study !== b.study) return a.study ? -1 : 1;
    const ba = BLOCK_ORDER[a.alias.charAt(0)] ?? 3;
    const bb = BLOCK_ORDER[b.alias.charAt(0)] ?? 3;
    return ba - bb || a.alias.localeCompare(b.alias, undefined, { numeric: true });
  });
}

export function LayerBrowser({ taps, selected, onSelect, shapes }: Props) {
  const ordered = orderTaps(taps);
  return (
    <section className="layer-browser" aria-label="Layers">
      <h3>
        Layers <span className="muted small">({taps.length})</span>
      </h3>
      <ul role="listbox" aria-label="tap layer" data-testid="layer-list">
        {ordered.length === 0 && (
          <li role="none" className="muted small">
            This pack lists no taps.
          </li>
        )}
        {ordered.map((t) => {
          const shape = shapes[t.alias];
          return (
            // role="none": the options belong to the listbox, the <li> is only layout (axe: aria-required-parent)
            <li key={t.alias} role="none">
              <button
                type="button"
                role="option"
                aria-selected={t.alias === selected}
                className={`layer${t.alias === selected ? ' active' : ''}`}
                disabled={!t.available}
                title={t.available ? (t.tensorName ?? t.target) : (t.reason ?? 'unavailable')}
                data-testid={`layer-${t.alias}`}
                onClick={() => onSelect(t.alias)}
              >
                <span className="layer-name">
                  {t.study ? '★ ' : ''}
                  {t.alias}
                </span>
                <span className="layer-meta small muted">
                  {blockOf(t.alias)}
                  {shape ? ` · ${shape.height}×${shape.width}${shape.channels ? `×${shape.channels}` : ''}` : ''}
                  {t.available ? '' : ' · unavailable'}
                </span>
              </button>
            </li>
          );
        })}
      </ul>
    </section>
  );
}
