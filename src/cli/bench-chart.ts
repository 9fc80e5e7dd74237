/**
 * The chart of `bench --scale --chart FILE.svg`: one group of horizontal bars
 * per stage (engine, bare ONNX Runtime, PyTorch), lengths relative to the
 * slowest of the three in that stage, so stages of very different cost can
 * share one picture; the milliseconds are written beside each bar. Plain SVG
 * text, so it renders in a README and diffs in a review.
 */
import type { ScaleBenchReport } from '../engine/bench-scale.js';

const SERIES = [
  { key: 'engineMs', label: 'engine', colour: '#2b6cb0' },
  { key: 'bareMs', label: 'bare ONNX Runtime', colour: '#90cdf4' },
  { key: 'torchMs', label: 'PyTorch eager', colour: '#dd6b20' },
] as const;

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;');

export function scaleChartSvg(r: ScaleBenchReport): string {
  const bar = 14;
  const gap = 10;
  const left = 215;
  const width = 420;
  const rows: Array<{ stage: string; values: Array<number | undefined>; scale?: number }> = r.stages.map((s) => ({
    stage: s.stage,
    values: SERIES.map((x) => s[x.key]),
  }));
  const unet = rows.findIndex((x) => x.stage === 'unet_batch2');
  // The pruned pass shares the full pass's scale, so its bar shows the fraction it costs.
  if (r.pruned && unet >= 0)
    rows.splice(unet + 1, 0, {
      stage: `unet pruned at ${r.pruned.tap}`,
      values: [r.pruned.engineMs, undefined, undefined],
      scale: Math.max(...rows[unet].values.filter((v): v is number => v !== undefined)),
    });
  const groupH = SERIES.length * bar + gap;
  const top = 48;
  const height = top + rows.length * groupH + 20;
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${left + width + 110}" height="${height}" font-family="sans-serif" font-size="11">`,
    `<rect width="100%" height="100%" fill="#fff"/>`,
    `<text x="8" y="16" font-size="13" font-weight="bold">${esc(`bench --scale ${r.scale}, ${r.image} px, ${r.cores} cores: median ms per stage (shorter is faster)`)}</text>`,
  ];
  SERIES.forEach((s, i) => {
    out.push(`<rect x="${8 + i * 150}" y="26" width="10" height="10" fill="${s.colour}"/>`, `<text x="${22 + i * 150}" y="35">${esc(s.label)}</text>`);
  });
  rows.forEach((row, g) => {
    const y0 = top + g * groupH;
    const max = row.scale ?? Math.max(...row.values.filter((v): v is number => v !== undefined && Number.isFinite(v)));
    out.push(`<text x="8" y="${y0 + (SERIES.length * bar) / 2 + 4}">${esc(row.stage)}</text>`);
    row.values.forEach((v, i) => {
      if (v === undefined || !Number.isFinite(v)) return;
      const w = Math.max(1, (v / max) * width);
      const y = y0 + i * bar;
      out.push(
        `<rect x="${left}" y="${y}" width="${w.toFixed(1)}" height="${bar - 2}" fill="${SERIES[i].colour}"/>`,
        `<text x="${(left + w + 4).toFixed(1)}" y="${y + bar - 4}">${v < 10 ? v.toFixed(2) : v.toFixed(0)} ms</text>`,
      );
    });
  });
  out.push('</svg>', '');
  return out.join('\n');
}
