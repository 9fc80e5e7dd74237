/**
 * Which Stable Diffusion family a UNet belongs to, and at what image size and
 * latent scale it runs.
 *
 * Why: tap presets and defaults depend on the family (SD 1.x: cross-attention
 * width 768, 1×1-conv projections around each transformer; SD 2.x: width
 * 1024, linear projections), and the VAE input size sets every feature-map
 * shape. Exports disagree on what they tell us: Optimum ships
 * `unet/config.json`; the diffusers script ships none; every export has a
 * graph. So each fact is taken from the best source available, and the source
 * is reported with it.
 */
import type { GraphIndex } from '../graph/onnx-index.js';
import { graphLookup } from '../graph/module-scope.js';

export type SdFamily = 'sd1' | 'sd2';

/** The fields of diffusers' unet/config.json the importers use. */
export interface UnetConfigJson {
  _class_name?: string;
  cross_attention_dim?: number | number[];
  use_linear_projection?: boolean;
  sample_size?: number;
  block_out_channels?: number[];
  down_block_types?: string[];
  up_block_types?: string[];
  layers_per_block?: number;
  attention_head_dim?: number | number[];
  upcast_attention?: boolean;
  addition_embed_type?: string | null;
}

export interface Sourced<T> {
  value: T;
  /** Where the value came from, for the import report. */
  source: string;
}

/** Dims of the weight a node multiplies by (through a Cast from float16 storage), or undefined. */
export function weightDims(index: GraphIndex, nodeName: string): number[] | undefined {
  const lookup = graphLookup(index);
  const i = lookup.nodeByName.get(nodeName);
  if (i === undefined) return undefined;
  const inits = new Map(index.initializers.map((t) => [t.name, t]));
  for (const input of index.nodes[i].inputs) {
    let name = input;
    const p = lookup.producer.get(name);
    if (p !== undefined && index.nodes[p].opType === 'Cast') name = index.nodes[p].inputs[0];
    const t = inits.get(name);
    if (t && t.dims.length >= 2) return t.dims;
  }
  return undefined;
}

/** Cross-attention width: the input width of the first attn2.to_k projection (MatMul weight [in, out]). */
export function graphCrossAttentionDim(index: GraphIndex): number | undefined {
  const node = index.nodes.find((n) => /attn2\/to_k\/MatMul$/.test(n.name));
  return node ? weightDims(index, node.name)?.[0] : undefined;
}

/** 'conv' (SD 1.x), 'linear' (SD 2.x) or undefined when no proj_in node is named. */
export function graphProjection(index: GraphIndex): 'conv' | 'linear' | undefined {
  for (const n of index.nodes) {
    const m = /\/attentions\.\d+\/proj_in\/(Conv|MatMul|Gemm)$/.exec(n.name);
    if (m) return m[1] === 'Conv' ? 'conv' : 'linear';
  }
  return undefined;
}

export interface FamilyEvidence {
  config?: UnetConfigJson;
  graph?: GraphIndex;
  /** Width of encoder_hidden_states as the UNet input declares it (static dim) or the text encoder's hidden size. */
  textHiddenSize?: number;
}

/** sd1 / sd2 with the reason; cross-attention width first, then the projection kind, then the default (sd1). */
export function detectFamily(e: FamilyEvidence): Sourced<SdFamily> & { crossAttentionDim?: number } {
  const cfgDim = Array.isArray(e.config?.cross_attention_dim) ? e.config.cross_attention_dim[0] : e.config?.cross_attention_dim;
  const candidates: Array<[number | undefined, string]> = [
    [cfgDim, 'unet/config.json cross_attention_dim'],
    [e.graph ? graphCrossAttentionDim(e.graph) : undefined, 'the attn2.to_k weights in the UNet graph'],
    [e.textHiddenSize, 'the text encoder width'],
  ];
  for (const [dim, src] of candidates) {
    if (dim === 768) return { value: 'sd1', source: `${src} = 768`, crossAttentionDim: dim };
    if (dim === 1024) return { value: 'sd2', source: `${src} = 1024`, crossAttentionDim: dim };
  }
  const dim = candidates.find(([d]) => d !== undefined)?.[0];
  if (typeof e.config?.use_linear_projection === 'boolean') {
    return {
      value: e.config.use_linear_projection ? 'sd2' : 'sd1',
      source: `unet/config.json use_linear_projection = ${e.config.use_linear_projection}`,
      crossAttentionDim: dim,
    };
  }
  const proj = e.graph ? graphProjection(e.graph) : undefined;
  if (proj)
    return {
      value: proj === 'linear' ? 'sd2' : 'sd1',
      source: `proj_in is a ${proj === 'linear' ? 'MatMul (linear projection)' : '1×1 Conv'} in the UNet graph`,
      crossAttentionDim: dim,
    };
  return { value: 'sd1', source: 'no evidence; assumed SD 1.x', crossAttentionDim: dim };
}

/** VAE downscale: from the VAE config (2^(blocks−1)), else the graph's downsampler convs, else 8. */
export function vaeScaleFactor(vaeConfig: { block_out_channels?: number[] } | undefined, vaeGraph: GraphIndex | undefined): Sourced<number> {
  const blocks = vaeConfig?.block_out_channels?.length;
  if (blocks && blocks > 0) return { value: 2 ** (blocks - 1), source: 'vae_encoder/config.json block_out_channels' };
  if (vaeGraph) {
    const levels = new Set<string>();
    for (const n of vaeGraph.nodes) {
      const m = /down_blocks\.(\d+)\/downsamplers\.0\/conv\/Conv$/.exec(n.name);
      if (m) levels.add(m[1]);
    }
    if (levels.size > 0) return { value: 2 ** levels.size, source: `${levels.size} downsampler convs in the VAE encoder graph` };
  }
  return { value: 8, source: 'the Stable Diffusion default (8)' };
}

/** Square VAE input size in pixels: config sample_size × scale, else a static UNet input, else 512. */
export function inferImageSize(
  config: UnetConfigJson | undefined,
  sampleDims: Array<number | string | null> | undefined,
  scale: Sourced<number>,
): Sourced<number> {
  if (config?.sample_size && config.sample_size > 0) {
    return { value: config.sample_size * scale.value, source: `unet/config.json sample_size ${config.sample_size} × ${scale.value}` };
  }
  const h = sampleDims?.[2];
  const w = sampleDims?.[3];
  if (typeof h === 'number' && h > 0 && h === w) return { value: h * scale.value, source: `the UNet's static sample shape ${h}×${w} × ${scale.value}` };
  return { value: 512, source: 'assumed 512 px (SD 1.x / 2.x-base); pass --image-size 768 for SD 2.x 768-v models' };
}
