/**
 * Figure sheets: a labelled grid of panels (layers × timesteps, or image
 * pair × mode) as one PNG and as an SVG. Both come from one layout. The PNG
 * is a sharp composite of the tiles plus one SVG overlay carrying every
 * label as <text>, rendered by sharp's librsvg with the system's fonts
 * (DejaVu/Liberation on Debian, the platform sans elsewhere). The SVG embeds
 * each tile as a base64 PNG data URI next to the same <text> elements, so it
 * opens in any browser or vector editor with selectable, editable labels.
 */
import sharp from 'sharp';
import type { RgbImage } from '../image/image.js';
import { encodePng } from '../viz/render.js';

export interface SheetCell {
  image: RgbImage;
  /** A small line under the cell (e.g. "CLIP patches", explained variance). */
  note?: string;
}

export interface SheetSpec {
  title?: string;
  /** One per row; "\n" splits a label over lines. */
  rowLabels: string[];
  /** One per column; "\n" splits a label over lines. */
  colLabels: string[];
  /** [row][col]; null leaves the cell empty. Every image is drawn at cellSize × cellSize. */
  cells: Array<Array<SheetCell | null>>;
  cellSize: number;
  /** Footer lines (pack, prompt, seed, similarity…). */
  footer?: string[];
}

export interface SheetOutput {
  png: Buffer;
  svg: string;
  width: number;
  height: number;
}

const FONT = 'DejaVu Sans, Liberation Sans, Helvetica, Arial, sans-serif';
const FS = 12;
const TITLE_FS = 15;
const NOTE_FS = 10;
const GAP = 6;
const MARGIN = 10;
/** Average glyph advance of the sans fonts above, as a fraction of the size. */
const ADVANCE = 0.6;

interface Text {
  x: number;
  y: number;
  text: string;
  size: number;
  anchor: 'start' | 'middle';
  bold?: boolean;
}

interface Layout {
  width: number;
  height: number;
  tiles: Array<{ x: number; y: number; image: RgbImage }>;
  texts: Text[];
}

export function escapeXml(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&apos;');
}

/** Shorten to what fits in `px` at `size` (estimated), with an ellipsis. */
function fit(text: string, px: number, size: number): string {
  const max = Math.max(3, Math.floor(px / (size * ADVANCE)));
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}

function layout(spec: SheetSpec): Layout {
  const rows = spec.rowLabels.length;
  const cols = spec.colLabels.length;
  if (spec.cells.length !== rows || spec.cells.some((r) => r.length !== cols)) throw new Error(`sheet: cells must be ${rows} × ${cols}`);
  const S = spec.cellSize;
  const rowLines = spec.rowLabels.map((l) => l.split('\n'));
  const longest = Math.max(1, ...rowLines.flat().map((l) => l.length));
  const labelW = Math.min(240, Math.max(40, Math.ceil(longest * FS * ADVANCE) + 8));
  const hasNotes = spec.cells.some((r) => r.some((c) => c?.note));
  const noteH = hasNotes ? NOTE_FS + 6 : 0;
  const titleH = spec.title ? TITLE_FS + 10 : 0;
  const colLines = spec.colLabels.map((l) => l.split('\n'));
  const headLines = Math.max(1, ...colLines.map((l) => l.length));
  const headH = headLines * (FS + 3) + 7;
  const footer = spec.footer ?? [];
  const footH = footer.length ? footer.length * (NOTE_FS + 5) + 6 : 0;
  const width = MARGIN * 2 + labelW + cols * S + (cols - 1) * GAP;
  const height = MARGIN * 2 + titleH + headH + rows * (S + noteH) + (rows - 1) * GAP + footH;
  const texts: Text[] = [];
  const tiles: Layout['tiles'] = [];
  if (spec.title)
    texts.push({ x: MARGIN, y: MARGIN + TITLE_FS, text: fit(spec.title, width - 2 * MARGIN, TITLE_FS), size: TITLE_FS, anchor: 'start', bold: true });
  const gridTop = MARGIN + titleH + headH;
  const gridLeft = MARGIN + labelW;
  colLines.forEach((lines, c) => {
    const bottom = gridTop - 7 - (lines.length - 1) * (FS + 3);
    lines.forEach((line, i) =>
      texts.push({ x: gridLeft + c * (S + GAP) + S / 2, y: bottom + i * (FS + 3), text: fit(line, S + GAP, FS), size: FS, anchor: 'middle', bold: i === 0 }),
    );
  });
  rowLines.forEach((lines, r) => {
    const cy = gridTop + r * (S + noteH + GAP) + S / 2;
    const first = cy - ((lines.length - 1) * (FS + 3)) / 2 + FS / 3;
    lines.forEach((line, i) => texts.push({ x: MARGIN, y: first + i * (FS + 3), text: fit(line, labelW - 6, FS), size: FS, anchor: 'start', bold: i === 0 }));
  });
  spec.cells.forEach((row, r) =>
    row.forEach((cell, c) => {
      if (!cell) return;
      const x = gridLeft + c * (S + GAP);
      const y = gridTop + r * (S + noteH + GAP);
      if (cell.image.width !== S || cell.image.height !== S)
        throw new Error(`sheet: cell ${r},${c} is ${cell.image.width}×${cell.image.height}, expected ${S}×${S}`);
      tiles.push({ x, y, image: cell.image });
      if (cell.note) texts.push({ x: x + S / 2, y: y + S + NOTE_FS + 2, text: fit(cell.note, S + GAP, NOTE_FS), size: NOTE_FS, anchor: 'middle' });
    }),
  );
  footer.forEach((line, i) => {
    texts.push({
      x: MARGIN,
      y: height - MARGIN - footH + 6 + (i + 1) * (NOTE_FS + 5) - 4,
      text: fit(line, width - 2 * MARGIN, NOTE_FS),
      size: NOTE_FS,
      anchor: 'start',
    });
  });
  return { width, height, tiles, texts };
}

function textElements(texts: Text[]): string {
  return texts
    .map(
      (t) =>
        `<text x="${t.x.toFixed(1)}" y="${t.y.toFixed(1)}" font-family="${FONT}" font-size="${t.size}"${t.bold ? ' font-weight="bold"' : ''}${t.anchor === 'middle' ? ' text-anchor="middle"' : ''} fill="#1a1a1a">${escapeXml(t.text)}</text>`,
    )
    .join('\n');
}

/** Render a sheet as PNG and SVG. */
export async function renderSheet(spec: SheetSpec): Promise<SheetOutput> {
  const L = layout(spec);
  const pngs = await Promise.all(L.tiles.map((t) => encodePng(t.image)));
  const overlay = `<svg xmlns="http://www.w3.org/2000/svg" width="${L.width}" height="${L.height}">\n${textElements(L.texts)}\n</svg>`;
  const png = await sharp({ create: { width: L.width, height: L.height, channels: 3, background: '#ffffff' } })
    .composite([
      ...L.tiles.map((t) => ({
        input: Buffer.from(t.image.data.buffer, t.image.data.byteOffset, t.image.data.byteLength),
        raw: { width: t.image.width, height: t.image.height, channels: 3 as const },
        left: t.x,
        top: t.y,
      })),
      { input: Buffer.from(overlay), left: 0, top: 0 },
    ])
    .png({ compressionLevel: 6, adaptiveFiltering: false })
    .toBuffer();
  const images = L.tiles
    .map(
      (t, i) =>
        `<image x="${t.x}" y="${t.y}" width="${t.image.width}" height="${t.image.height}" style="image-rendering:pixelated" href="data:image/png;base64,${pngs[i].toString('base64')}"/>`,
    )
    .join('\n');
  const svg = [
    `<?xml version="1.0" encoding="UTF-8"?>`,
    `<svg xmlns="http://www.w3.org/2000/svg" width="${L.width}" height="${L.height}" viewBox="0 0 ${L.width} ${L.height}">`,
    `<rect width="100%" height="100%" fill="#ffffff"/>`,
    images,
    textElements(L.texts),
    `</svg>`,
    '',
  ].join('\n');
  return { png, svg, width: L.width, height: L.height };
}
