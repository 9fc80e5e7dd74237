/**
 * One engine-rendered panel (PCA, difference, attention, correspondence …):
 * its PNG, its label, a hover readout of the token under the pointer (row,
 * column and the panel's values there: PCs, norm, cosine, attention) and a
 * PNG export button. A panel can also take clicks (the correspondence point).
 */
import { type MouseEvent, useState } from 'react';
import type { VisualPanel } from '../../../shared/contract.js';
import { type UnitPoint, cellAt } from '../../lib/crop.js';
import { downloadBytes } from '../../lib/download.js';

interface Props {
  panel: VisualPanel;
  url: string | undefined;
  /** File name stem for the PNG export. */
  exportName: string;
  /** Display size in CSS pixels. */
  size?: number;
  onPick?(p: UnitPoint): void;
  /** A marker to draw (crop units), e.g. the picked point. */
  marker?: UnitPoint;
  caption?: string;
}

function fmt(v: number): string {
  return Math.abs(v) >= 100 || (Math.abs(v) < 0.01 && v !== 0) ? v.toExponential(2) : v.toFixed(3);
}

export function hoverText(panel: VisualPanel, p: UnitPoint): string | undefined {
  const g = panel.grid;
  if (!g) return undefined;
  const { row, col, token } = cellAt(p, g.height, g.width);
  let text = `token (${row}, ${col})`;
  if (panel.values && panel.valueNames?.length) {
    const k = panel.valueNames.length;
    const vals = panel.valueNames.slice(0, 6).map((n, i) => `${n} ${fmt(panel.values![token * k + i])}`);
    text += ` · ${vals.join(' · ')}${k > 6 ? ' …' : ''}`;
  }
  return text;
}

export function PanelImage({ panel, url, exportName, size = 200, onPick, marker, caption }: Props) {
  const [hover, setHover] = useState<string>();
  const unit = (e: MouseEvent<HTMLElement>): UnitPoint => {
    const r = e.currentTarget.getBoundingClientRect();
    return { u: Math.min(1, Math.max(0, (e.clientX - r.left) / r.width)), v: Math.min(1, Math.max(0, (e.clientY - r.top) / r.height)) };
  };
  return (
    <figure
      className={`panel panel-${panel.kind}${onPick ? ' pickable' : ''}`}
      data-testid={`panel-${panel.id}`}
      data-kind={panel.kind}
      data-source={panel.source}
    >
      <div
        className="panel-img"
        style={{ width: size, height: (size * panel.height) / panel.width }}
        onMouseMove={(e) => setHover(hoverText(panel, unit(e)) ?? (onPick ? 'click to pick a point' : undefined))}
        onMouseLeave={() => setHover(undefined)}
        onClick={onPick ? (e) => onPick(unit(e)) : undefined}
        title={onPick ? 'Click a point: its best matches are shown for CLIP and the tap' : undefined}
      >
        {url && <img src={url} alt={panel.label} draggable={false} />}
        {marker && <span className="marker" style={{ left: `${marker.u * 100}%`, top: `${marker.v * 100}%` }} aria-hidden="true" />}
      </div>
      <figcaption>
        <span className="panel-label" title={panel.label}>
          {panel.label}
        </span>
        <button
          type="button"
          className="link small"
          title="Save this panel as PNG"
          data-testid={`export-png-${panel.id}`}
          onClick={() => downloadBytes(`${exportName}_${panel.id}.png`, panel.png, 'image/png')}
        >
          PNG
        </button>
      </figcaption>
      <div className="panel-hover small muted" data-testid={`hover-${panel.id}`}>
        {hover ?? caption ?? '\u00a0'}
      </div>
    </figure>
  );
}
