/**
 * What an imported UNet graph still exposes after an exporter's optimiser ran.
 *
 * Why: the app reads intermediate tensors by name (DESIGN §2). Plain fp32
 * exports from the diffusers script or Optimum keep one node per op, named
 * after the PyTorch module (`/up_blocks.1/attentions.1/.../attn2/Softmax`).
 * Olive / ONNX Runtime transformer-optimised exports fuse each attention into a
 * `MultiHeadAttention` (or `Attention`, packed QKV) contrib op with a generic
 * name, and GroupNorm into `GroupNorm`: the cross-attention probabilities no
 * longer exist as a tensor, and the modules folded into a fused node have no
 * nodes of their own. This check tells the user, before anything runs, which
 * study taps and which maps are gone and why, and what to download instead.
 */
import type { GraphIndex } from '../graph/onnx-index.js';
import { STUDY_TAPS } from '../graph/tap-alias.js';
import { findTensors, resolveTap } from '../graph/tap-resolve.js';

/** Contrib ops that replace per-op subgraphs (names of the fused pieces vanish). */
export const FUSED_OP_TYPES = [
  'MultiHeadAttention',
  'Attention',
  'PackedAttention',
  'PackedMultiHeadAttention',
  'GroupQueryAttention',
  'GroupNorm',
  'SkipGroupNorm',
  'BiasSplitGelu',
  'BiasAdd',
  'SkipLayerNormalization',
  'NhwcConv',
] as const;

const ATTENTION_OPS = new Set(['MultiHeadAttention', 'Attention', 'PackedAttention', 'PackedMultiHeadAttention', 'GroupQueryAttention']);

export interface TapAvailability {
  alias: string;
  available: boolean;
  tensorName?: string;
  reason?: string;
}

export interface AttentionReport {
  /** True when the graph contains fused contrib ops (an optimised export). */
  optimised: boolean;
  /** opType → count, for the fused ops found. */
  fusedOps: Record<string, number>;
  /** Fraction of nodes whose name carries a module scope ("/down_blocks.0/..."). */
  scopedNodeFraction: number;
  crossAttentionMaps: { available: boolean; count: number; reason?: string };
  studyTaps: TapAvailability[];
  /** Plain-language lines for the CLI / Models view. */
  notes: string[];
}

const UNOPTIMISED_HINT = 'use an unoptimised fp32 export (diffusers script or Optimum, e.g. onnx-community/stable-diffusion-v1-5-ONNX)';

/** Inspects a UNet graph index; `crossAttentionPattern` is the manifest's regex (default `attn2/Softmax_output_0$`). */
export function checkAttention(index: GraphIndex, crossAttentionPattern = 'attn2/Softmax_output_0$'): AttentionReport {
  const fusedOps: Record<string, number> = {};
  let scoped = 0;
  for (const n of index.nodes) {
    if ((FUSED_OP_TYPES as readonly string[]).includes(n.opType)) fusedOps[n.opType] = (fusedOps[n.opType] ?? 0) + 1;
    if (/^\/?(?:unet\/)?(?:down_blocks|up_blocks|mid_block|conv_in|time_embedding)[./]/.test(n.name)) scoped++;
  }
  const optimised = Object.keys(fusedOps).length > 0;
  const attentionFused = Object.keys(fusedOps).some((op) => ATTENTION_OPS.has(op));
  const scopedNodeFraction = index.nodes.length ? scoped / index.nodes.length : 0;
  const maps = findTensors(index, crossAttentionPattern);
  const notes: string[] = [];

  let mapsReason: string | undefined;
  if (maps.length === 0) {
    if (attentionFused) {
      const ops = Object.entries(fusedOps)
        .filter(([op]) => ATTENTION_OPS.has(op))
        .map(([op, k]) => `${k}× ${op}`)
        .join(', ');
      mapsReason = `attention is fused (${ops}), so the softmax probabilities are computed inside one op and never exist as a tensor; ${UNOPTIMISED_HINT}`;
    } else if (scopedNodeFraction < 0.05) {
      mapsReason = `node names carry no module paths, so cross-attention layers cannot be found; ${UNOPTIMISED_HINT}`;
    } else {
      mapsReason = `no tensor matches the cross-attention pattern /${crossAttentionPattern}/; set diffusion.crossAttention.pattern in pack.json to this export's softmax names`;
    }
  }

  const studyTaps: TapAvailability[] = STUDY_TAPS.map((alias) => {
    try {
      return { alias, available: true, tensorName: resolveTap(index, alias).tensorName };
    } catch {
      const why =
        scopedNodeFraction < 0.05
          ? 'the graph has no module-scoped node names'
          : attentionFused || optimised
            ? 'its module was folded into a fused op by the optimiser'
            : 'its module has no nodes in this graph';
      return { alias, available: false, reason: `${why}; ${UNOPTIMISED_HINT}` };
    }
  });

  if (optimised) {
    notes.push(
      `Optimised export: ${Object.entries(fusedOps)
        .map(([op, k]) => `${k}× ${op}`)
        .join(', ')}.`,
    );
  }
  if (mapsReason) notes.push(`Cross-attention maps unavailable: ${mapsReason}.`);
  else notes.push(`Cross-attention maps: ${maps.length} softmax tensors.`);
  const missing = studyTaps.filter((t) => !t.available);
  if (missing.length) notes.push(`Study taps unavailable: ${missing.map((t) => t.alias).join(', ')} (${missing[0].reason}).`);
  else notes.push('All six study taps resolve.');

  return {
    optimised,
    fusedOps,
    scopedNodeFraction,
    crossAttentionMaps: { available: maps.length > 0, count: maps.length, ...(mapsReason ? { reason: mapsReason } : {}) },
    studyTaps,
    notes,
  };
}
