/**
 * What one UNet pass costs, and how much of it a tap needs.
 *
 * Why: the engine prunes the UNet after the requested taps (graph-edit.ts), so
 * reading `D-L2-R0-B0-Cross-Q` runs a fraction of the network while
 * `U-L2-R2-Res-Out` runs nearly all of it. Users choose taps partly by cost,
 * and the memory estimate needs the largest activations that remain. ONNX
 * graphs carry no activation shapes for dynamic exports, so shapes come from
 * the diffusers module layout the node names encode: a node under
 * `down_blocks.i` works at latent/2^i, `mid_block` at the lowest resolution,
 * `up_blocks.j` at latent/2^(n−1−j) (its upsampler at twice that), attention
 * keys of `attn2` at the prompt length. MACs per node are weight size ×
 * positions for Conv/MatMul/Gemm, and HW × keys × channels for the
 * weight-free attention products. It is an estimate, stated as one.
 */
import type { TapCost } from '../../shared/contract.js';
import { type GraphIndex, type GraphNode } from '../graph/onnx-index.js';
import { planPrune } from '../graph/graph-edit.js';
import { graphLookup } from '../graph/module-scope.js';
import { elementBytes } from './onnx-component.js';

export interface UnetShape {
  /** Latent side (64 for 512 px SD). */
  latent: number;
  /** Channels per resolution level, level 0 = full latent resolution. */
  channels: number[];
  /** Levels whose blocks contain attention. */
  attentionLevels: boolean[];
  /** Prompt length (keys of cross-attention). */
  textLength: number;
  batch: number;
  /**
   * Attention heads per level. SD 1.x has 8 at every level (its config's `attention_head_dim: 8` is a
   * head count); SD 2.x has 64-wide heads (channels ÷ 64). Default: channels ÷ 64.
   */
  heads?: number[];
}

/** The tap cost without the derived ratios (contract TapCost). */
export type UnetCost = Omit<TapCost, 'fraction' | 'gmacsKept' | 'gmacsTotal'>;

interface Placed {
  level: number;
  /** Spatial positions (H·W) the node's output has. */
  positions: number;
  /** Keys of the attention it belongs to (HW for attn1, text length for attn2), 0 when none. */
  keys: number;
}

/** Reads the level layout from conv weights: `/down_blocks.i/resnets.0/conv1/Conv` → channels of level i. */
export function unetShapeFromGraph(index: GraphIndex, latent: number, textLength = 77, batch = 2): UnetShape {
  const lookup = graphLookup(index);
  const inits = new Map(index.initializers.map((t) => [t.name, t]));
  const channels: number[] = [];
  const attentionLevels: boolean[] = [];
  for (const n of index.nodes) {
    const m = /^\/?(?:unet\/)?down_blocks\.(\d+)\/(resnets\.0\/conv1\/Conv|attentions\.)/.exec(n.name);
    if (!m) continue;
    const lvl = Number(m[1]);
    if (m[2].startsWith('attentions')) {
      attentionLevels[lvl] = true;
      continue;
    }
    for (const input of n.inputs) {
      let name = input;
      const p = lookup.producer.get(name);
      if (p !== undefined && index.nodes[p].opType === 'Cast') name = index.nodes[p].inputs[0];
      const t = inits.get(name);
      if (t && t.dims.length === 4) channels[lvl] = t.dims[0];
    }
  }
  const levels = Math.max(channels.length, attentionLevels.length, 1);
  const filled = Array.from({ length: levels }, (_, i) => channels[i] ?? channels[i - 1] ?? 320);
  return { latent, channels: filled, attentionLevels: Array.from({ length: levels }, (_, i) => !!attentionLevels[i]), textLength, batch };
}

function place(name: string, shape: UnetShape): Placed {
  const n = shape.channels.length;
  const side = (lvl: number) => Math.max(1, Math.round(shape.latent / 2 ** lvl));
  let level = 0;
  let positions = side(0) ** 2;
  const down = /(?:^|\/)down_blocks\.(\d+)\/(downsamplers)?/.exec(name);
  const up = /(?:^|\/)up_blocks\.(\d+)\/(upsamplers)?/.exec(name);
  if (down) {
    level = Number(down[1]) + (down[2] ? 1 : 0);
    positions = side(level) ** 2;
  } else if (/(?:^|\/)mid_block\//.test(name)) {
    level = n - 1;
    positions = side(level) ** 2;
  } else if (up) {
    level = n - 1 - Number(up[1]);
    positions = side(level - (up[2] ? 1 : 0)) ** 2;
  } else if (/time_embedding|time_proj|add_embedding/.test(name)) {
    positions = 1;
  }
  level = Math.max(0, Math.min(n - 1, level));
  const keys = /\/attn1\//.test(name) ? positions : /\/attn2\//.test(name) ? shape.textLength : 0;
  return { level, positions, keys };
}

function nodeMacs(node: GraphNode, index: GraphIndex, shape: UnetShape, weights: Map<string, number[]>): number {
  const at = place(node.name, shape);
  const b = shape.batch;
  const w = node.inputs.map((i) => weights.get(i)).find((d) => d && d.length >= 2);
  switch (node.opType) {
    case 'Conv':
    case 'NhwcConv':
      return w ? w.reduce((a, c) => a * c, 1) * at.positions * b : 0;
    case 'MatMul':
    case 'Gemm': {
      if (w) {
        const rows = /\/attn2\/to_[kv]\//.test(node.name) ? shape.textLength : at.positions;
        return w[0] * w[1] * rows * b;
      }
      // Q·Kᵀ and P·V inside an unfused attention: HW × keys × channels.
      return at.keys ? at.positions * at.keys * shape.channels[at.level] * b : 0;
    }
    case 'MultiHeadAttention':
    case 'Attention':
    case 'PackedAttention':
    case 'PackedMultiHeadAttention': {
      const keys = at.keys || at.positions;
      return 2 * at.positions * keys * shape.channels[at.level] * b;
    }
    default:
      return 0;
  }
}

/** Weight dims by tensor name, looking through Cast (float16 storage) and DequantizeLinear. */
function weightDimsByInput(index: GraphIndex): Map<string, number[]> {
  const out = new Map<string, number[]>();
  for (const t of index.initializers) out.set(t.name, t.dims);
  for (const n of index.nodes) {
    if ((n.opType === 'Cast' || n.opType === 'DequantizeLinear' || n.opType === 'Transpose') && out.has(n.inputs[0]))
      out.set(n.outputs[0], out.get(n.inputs[0])!);
  }
  return out;
}

/** Cost of the full UNet and of the part a set of tensors needs (graph pruned after them). */
export function unetCost(index: GraphIndex, shape: UnetShape, keep: readonly string[] | undefined): UnetCost {
  const weights = weightDimsByInput(index);
  const kept = keep?.length ? planPrune(index, keep).keepNode : index.nodes.map(() => true);
  const initBytes = new Map(index.initializers.map((t) => [t.name, t.dims.reduce((a, c) => a * c, 1) * elementBytes(t.elementType)]));
  const usedInits = new Set<string>();
  let macsTotal = 0;
  let macsKept = 0;
  let nodesKept = 0;
  let finest = shape.channels.length - 1;
  index.nodes.forEach((node, i) => {
    const macs = nodeMacs(node, index, shape, weights);
    macsTotal += macs;
    if (!kept[i]) return;
    macsKept += macs;
    nodesKept++;
    finest = Math.min(finest, place(node.name, shape).level);
    for (const inp of node.inputs) if (initBytes.has(inp)) usedInits.add(inp);
  });
  let weightBytesKept = 0;
  for (const n of usedInits) weightBytesKept += initBytes.get(n)!;
  let weightBytesTotal = 0;
  for (const v of initBytes.values()) weightBytesTotal += v;
  return { macsTotal, macsKept, nodesTotal: index.nodes.length, nodesKept, weightBytesKept, weightBytesTotal, finestKeptLevel: finest };
}

/**
 * Peak activation bytes of one batched UNet pass down to `finestLevel`: the
 * largest self-attention score tensor (unfused graphs materialise
 * batch × heads × HW × HW floats), the skip connections kept for the up path,
 * and a few working feature maps.
 */
export function unetActivationBytes(shape: UnetShape, finestLevel = 0, fusedAttention = false, bytesPerValue = 4): number {
  const side = (lvl: number) => Math.max(1, Math.round(shape.latent / 2 ** lvl));
  let scores = 0;
  let skips = 0;
  let maxMap = 0;
  shape.channels.forEach((c, lvl) => {
    const hw = side(lvl) ** 2;
    const map = shape.batch * c * hw * bytesPerValue;
    skips += 3 * map;
    if (lvl >= finestLevel) maxMap = Math.max(maxMap, map);
    if (lvl >= finestLevel && shape.attentionLevels[lvl]) {
      const heads = shape.heads?.[lvl] ?? (Math.max(1, Math.round(c / 64)) || 8);
      const s = shape.batch * heads * hw * Math.max(hw, shape.textLength) * 4;
      // Unfused, the Softmax's input and output score matrices are alive at once (measured: 2.2 GiB for
      // SD 1.5 at 512 px, batch 2, 8 heads × 4096² floats × 2).
      scores = Math.max(scores, fusedAttention ? s / heads : 2 * s);
    }
  });
  return scores + skips + 6 * maxMap;
}
