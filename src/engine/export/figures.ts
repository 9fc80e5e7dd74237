/**
 * The two figure sheets of an export, drawn from features in memory or read
 * back from disk. Per image: layers × timesteps — for each tap its PCA
 * (fitted jointly over the timesteps, so colours compare along a row) and
 * its difference map cond − uncond, then the question words' mean
 * cross-attention; the input and CLIP's patch PCA in the first column. For a
 * pair of images (MMVP style): image × mode at one timestep, every PCA fitted
 * jointly over both images, with the study's intra-pair similarity per
 * encoder in the footer and returned for the summary.
 */
import type { CrossAttentionMaps, TapFeatures } from '../../shared/contract.js';
import { meanAttention, wordTokens } from '../viz/attention.js';
import { type FeatureGrid, tapBranches } from '../viz/maps.js';
import { differencePanel, type Panel, pcaPanels } from '../viz/panels.js';
import { overlay } from '../viz/render.js';
import { pairSimilarity, type PairSimilarity } from '../viz/similarity.js';
import type { ImageContext } from './groups.js';
import { renderSheet, type SheetCell, type SheetOutput } from './sheet.js';

/** Everything the sheets need about one image. */
export interface ImageFeatures {
  ctx: ImageContext;
  /** Display name (file name). */
  label: string;
  /** t → taps in the requested order. */
  taps: Map<number, TapFeatures[]>;
  crossAttention: Map<number, CrossAttentionMaps>;
  clip?: FeatureGrid;
}

function cell(p: Panel | undefined, note?: string): SheetCell | null {
  return p ? { image: p.image, note } : null;
}

function explainedNote(p: Panel): string {
  const e = (p.meta?.explained as number[] | undefined) ?? [];
  return e.length ? `PC ${e.map((v) => Math.round(v * 100)).join('·')} %` : '';
}

function footer(ctx: ImageContext): string[] {
  return [
    `pack ${ctx.pack} · prompt "${ctx.prompt}" · guidance ${ctx.guidance} · seed ${ctx.seed} · ensemble ${ctx.ensemble}`,
    'PCA → RGB fitted jointly along each row; cond − uncond shown as its per-token norm; cross-attention averaged over heads and layers',
  ];
}

function wordAttention(x: CrossAttentionMaps | undefined, base: ImageContext['base']) {
  if (!x) return undefined;
  const words = wordTokens(x);
  return overlay(base, meanAttention(x, words.length ? words : x.tokens.map((_, i) => i)), { colormap: 'magma', alpha: 0.6 });
}

/** Layers × timesteps for one image. */
export async function imageSheet(f: ImageFeatures, taps: string[], timesteps: number[]): Promise<SheetOutput> {
  const { ctx } = f;
  const S = ctx.size;
  const rowLabels: string[] = [];
  const rows: Array<Array<SheetCell | null>> = [];
  const first: Array<SheetCell | null> = [{ image: ctx.base, note: 'encoder view' }];
  if (f.clip) first.push(cell(pcaPanels([{ id: 'clip', label: 'CLIP', source: 'clip', grid: f.clip }], S)[0], 'CLIP patches PCA'));
  taps.forEach((alias, i) => {
    const perT = timesteps.map((t) => f.taps.get(t)?.[i]);
    const present = perT.filter((x): x is TapFeatures => !!x);
    const pcas = pcaPanels(
      present.map((tap, k) => ({ id: `pca${k}`, label: alias, source: 'diffusion' as const, grid: tapBranches(tap).guided })),
      S,
    );
    let k = 0;
    const pcaRow = perT.map((tap) => (tap ? pcas[k++] : undefined));
    rowLabels.push(`${alias}\nPCA`);
    rows.push(pcaRow.map((p, c) => cell(p, c === 0 && p ? explainedNote(p) : undefined)));
    if (present.some((tap) => tap.cond && tap.uncond)) {
      rowLabels.push(`${alias}\ncond − uncond`);
      rows.push(
        perT.map((tap) => {
          const d = tap && tapBranches(tap).difference;
          return d ? cell(differencePanel('d', 'd', d, ctx.base)) : null;
        }),
      );
    }
  });
  if (timesteps.some((t) => f.crossAttention.has(t))) {
    rowLabels.push('cross-attention\nquestion words');
    rows.push(
      timesteps.map((t) => {
        const img = wordAttention(f.crossAttention.get(t), ctx.base);
        return img ? { image: img } : null;
      }),
    );
  }
  const cells = rows.map((r, i) => [first[i] ?? null, ...r]);
  return renderSheet({
    title: `${f.label} — layers × timesteps`,
    rowLabels,
    colLabels: ['input', ...timesteps.map((t) => `t = ${t}`)],
    cells,
    cellSize: S,
    footer: footer(ctx),
  });
}

export interface PairResult {
  sheet: SheetOutput;
  t: number;
  /** Encoder ("clip" or a tap alias) → intra-pair similarity. */
  similarity: Record<string, PairSimilarity>;
}

const fmt = (v: number) => v.toFixed(3);

/** Image pair × mode at one timestep, with the intra-pair similarity per encoder. */
export async function pairSheet(a: ImageFeatures, b: ImageFeatures, taps: string[], t: number): Promise<PairResult> {
  const S = a.ctx.size;
  const colLabels = ['input'];
  const cols: Array<[SheetCell | null, SheetCell | null]> = [[{ image: a.ctx.base }, { image: b.ctx.base }]];
  const similarity: Record<string, PairSimilarity> = {};
  if (a.clip && b.clip) {
    const [pa, pb] = pcaPanels(
      [
        { id: 'a', label: 'A', source: 'clip', grid: a.clip },
        { id: 'b', label: 'B', source: 'clip', grid: b.clip },
      ],
      S,
    );
    similarity.clip = pairSimilarity(a.clip, b.clip);
    colLabels.push('CLIP\nPCA (joint)');
    cols.push([cell(pa), cell(pb)]);
  }
  taps.forEach((alias, i) => {
    const ta = a.taps.get(t)?.[i];
    const tb = b.taps.get(t)?.[i];
    if (!ta || !tb) return;
    const ga = tapBranches(ta);
    const gb = tapBranches(tb);
    const [pa, pb] = pcaPanels(
      [
        { id: 'a', label: 'A', source: 'diffusion', grid: ga.guided },
        { id: 'b', label: 'B', source: 'diffusion', grid: gb.guided },
      ],
      S,
    );
    similarity[alias] = pairSimilarity(ga.guided, gb.guided);
    colLabels.push(`${alias}\nPCA (joint)`);
    cols.push([cell(pa), cell(pb)]);
    if (i === 0 && ga.difference && gb.difference) {
      colLabels.push(`${alias}\ncond − uncond`);
      cols.push([cell(differencePanel('a', 'a', ga.difference, a.ctx.base)), cell(differencePanel('b', 'b', gb.difference, b.ctx.base))]);
    }
  });
  const xa = wordAttention(a.crossAttention.get(t), a.ctx.base);
  const xb = wordAttention(b.crossAttention.get(t), b.ctx.base);
  if (xa && xb) {
    colLabels.push('cross-attention\nquestion words');
    cols.push([{ image: xa }, { image: xb }]);
  }
  const sims = Object.entries(similarity).map(([k, s]) => `${k} ${fmt(s.tokenwise)} / ${fmt(s.pooled)}`);
  const sheet = await renderSheet({
    title: `${a.label} vs ${b.label} — t = ${t}`,
    rowLabels: [a.label, b.label],
    colLabels,
    cells: [cols.map((c) => c[0]), cols.map((c) => c[1])],
    cellSize: S,
    footer: [...footer(a.ctx), `intra-pair cosine similarity (token-wise / mean-pooled): ${sims.join(' · ') || 'n/a'}`],
  });
  return { sheet, t, similarity };
}
