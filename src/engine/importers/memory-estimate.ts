/**
 * How much memory a pack will take before anything is loaded: weights (file
 * sizes including external data; only the part a pruned tap graph keeps for
 * the UNet), activations at the pack's image size, the LLM's KV cache at the
 * chosen context length, and the UNet cost of the chosen tap — and whether
 * that fits in the memory free now.
 *
 * Why: real packs are gigabytes (SD 1.5 fp32 ≈ 4 GB, a 0.5 B LLM ≈ 2.5 GB)
 * and running out of memory in the middle of `InferenceSession.create` kills
 * the engine process with no useful message. The estimate reads graphs only
 * when the .onnx file is small (weights external), so it costs milliseconds
 * on an SD export; inline-weight files are counted by size with standard
 * shapes assumed.
 */
import type { ComponentEstimate, PackEstimate } from '../../shared/contract.js';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { TwinLensError } from '../../shared/errors.js';
import { type GraphIndex, readGraphIndex } from '../graph/onnx-index.js';
import { resolveTap } from '../graph/tap-resolve.js';
import { Pack } from '../pack/pack.js';
import { graphProjection } from './unet-family.js';
import { type UnetShape, unetActivationBytes, unetCost, unetShapeFromGraph } from './unet-cost.js';

/** Graphs are read when the .onnx file is at most this big (external weights). */
const GRAPH_READ_LIMIT = 64 * 2 ** 20;
/** ONNX Runtime's own per-session overhead (arena, kernels), a rough constant. */
const SESSION_OVERHEAD = 40 * 2 ** 20;

export interface EstimateOptions {
  tap?: string;
  /** LLM context length for the KV cache (default: the pack's llm.maxLength). */
  maxLength?: number;
  /** Free memory to compare with (default os.freemem()). */
  freeBytes?: number;
  /** Share of free memory the pack may use (default 0.9). */
  headroom?: number;
}

/** The .onnx file and its external data: total bytes, and the graph when cheap to read. */
async function onnxFiles(file: string): Promise<{ bytes: number; index?: GraphIndex }> {
  const size = fs.statSync(file).size;
  if (size > GRAPH_READ_LIMIT) return { bytes: size };
  const index = await readGraphIndex(file);
  let bytes = size;
  for (const rel of index.externalDataFiles) {
    try {
      bytes += fs.statSync(path.resolve(path.dirname(file), rel)).size;
    } catch {
      // validate reports missing data; count what exists
    }
  }
  return { bytes, index };
}

function convOut(index: GraphIndex | undefined, pattern: RegExp): number | undefined {
  if (!index) return undefined;
  const names = new Set(index.nodes.filter((n) => pattern.test(n.name)).flatMap((n) => n.inputs));
  const w = index.initializers.find((t) => names.has(t.name) && t.dims.length === 4);
  return w?.dims[0];
}

function comp(label: string, file: string, weightsBytes: number, activationBytes: number, notes: string[] = [], kvCacheBytes?: number): ComponentEstimate {
  return {
    label,
    path: file,
    weightsBytes,
    activationBytes,
    ...(kvCacheBytes !== undefined ? { kvCacheBytes } : {}),
    totalBytes: weightsBytes + activationBytes + (kvCacheBytes ?? 0) + SESSION_OVERHEAD,
    notes,
  };
}

export async function estimatePack(dir: string, o: EstimateOptions = {}): Promise<PackEstimate> {
  const pack = Pack.load(dir);
  const m = pack.manifest;
  const components: ComponentEstimate[] = [];
  const notes: string[] = [];
  let tapInfo: PackEstimate['tap'];

  if (m.diffusion) {
    const d = m.diffusion;
    const S = d.imageSize;
    const vae = await onnxFiles(pack.resolve(d.vaeEncoder.path));
    const c0 = convOut(vae.index, /encoder\/conv_in\/Conv$/) ?? 128;
    // Full-resolution maps (batch 1) dominate the VAE encoder; its mid-block attention works at 1/8.
    components.push(comp('diffusion.vaeEncoder', d.vaeEncoder.path, vae.bytes, 4 * c0 * S * S * 4 + (S / 8) ** 4 * 4));
    const text = await onnxFiles(pack.resolve(d.textEncoder.path));
    // Token embedding [vocab, hidden] is the 2-D weight with the most rows.
    const emb = text.index?.initializers.filter((t) => t.dims.length === 2).sort((a, b) => b.dims[0] - a.dims[0])[0];
    const textHidden = emb?.dims[1] ?? 1024;
    components.push(comp('diffusion.textEncoder', d.textEncoder.path, text.bytes, 2 * d.textEncoder.maxLength * textHidden * 4 * 8));
    const unetFile = pack.resolve(d.unet.path);
    const unet = await onnxFiles(unetFile);
    const alias = o.tap ?? d.defaults.tap;
    const sampleDims = unet.index?.inputs.find((v) => v.name === 'sample')?.dims;
    const latent = typeof sampleDims?.[2] === 'number' ? sampleDims[2] : Math.round(S / 8);
    const shape: UnetShape = unet.index
      ? unetShapeFromGraph(unet.index, latent, d.textEncoder.maxLength)
      : { latent, channels: [320, 640, 1280, 1280], attentionLevels: [true, true, true, false], textLength: d.textEncoder.maxLength, batch: 2 };
    // SD 1.x (1×1-conv projections around each transformer) has 8 heads at every level; SD 2.x 64-wide heads.
    if (unet.index && graphProjection(unet.index) === 'conv') shape.heads = shape.channels.map(() => 8);
    const unetNotes: string[] = [];
    let weights = unet.bytes;
    let finest = 0;
    const fused = !!unet.index?.nodes.some((n) => n.opType === 'MultiHeadAttention' || n.opType === 'Attention');
    if (unet.index) {
      let tensor: string | undefined;
      try {
        tensor = resolveTap(unet.index, alias, { overrides: d.taps }).tensorName;
      } catch (e) {
        unetNotes.push(`tap ${alias} does not resolve: ${(e as Error).message.split('.')[0]}`);
      }
      const cost = unetCost(unet.index, shape, tensor ? [tensor] : undefined);
      finest = cost.finestKeptLevel;
      // The pruned graph loads only the initializers its nodes read.
      if (tensor && cost.weightBytesTotal > 0) weights = Math.round(unet.bytes * (cost.weightBytesKept / cost.weightBytesTotal));
      tapInfo = {
        alias,
        ...(tensor ? { tensor } : {}),
        cost: { ...cost, fraction: cost.macsTotal ? cost.macsKept / cost.macsTotal : 1, gmacsKept: cost.macsKept / 1e9, gmacsTotal: cost.macsTotal / 1e9 },
      };
    } else {
      unetNotes.push('UNet weights are inline (large .onnx): standard SD shapes assumed, pruning not counted');
      tapInfo = { alias };
    }
    // Intermediate tensors are float32 even in fp16-I/O exports that compute in float32 inside; count 4 bytes.
    components.push(comp('diffusion.unet', d.unet.path, weights, unetActivationBytes(shape, finest, fused), unetNotes));
  }

  if (m.clip) {
    const vis = await onnxFiles(pack.resolve(m.clip.vision.path));
    let crop = 336;
    try {
      const pre = pack.readJson<{ crop_size?: number | { height?: number }; size?: number | { shortest_edge?: number; height?: number } }>(m.clip.preprocessor);
      crop =
        (typeof pre.crop_size === 'number' ? pre.crop_size : pre.crop_size?.height) ??
        (typeof pre.size === 'number' ? pre.size : (pre.size?.shortest_edge ?? pre.size?.height)) ??
        crop;
    } catch {
      // validate reports it
    }
    const patchW = vis.index?.initializers.find((t) => t.dims.length === 4 && t.dims[1] === 3);
    const patch = patchW?.dims[2] ?? 14;
    const hidden = patchW?.dims[0] ?? 1024;
    const tokens = (crop / patch) ** 2 + 1;
    const heads = Math.max(1, Math.round(hidden / 64));
    components.push(comp('clip.vision', m.clip.vision.path, vis.bytes, tokens * hidden * 4 * 12 + heads * tokens * tokens * 4));
  }

  if (m.llm) {
    const l = m.llm;
    const maxLength = o.maxLength ?? l.maxLength;
    const emb = await onnxFiles(pack.resolve(l.embedTokens.path));
    const dec = await onnxFiles(pack.resolve(l.decoder.path));
    const vocabW = emb.index?.initializers.find((t) => t.dims.length === 2);
    const vocab = vocabW?.dims[0] ?? 152_000;
    const hidden = vocabW?.dims[1] ?? l.numKvHeads * l.headDim * 4;
    const kvBytes = 2 * l.numLayers * l.numKvHeads * l.headDim * maxLength * (l.dtype === 'float16' ? 2 : 4);
    const prompt = Math.min(maxLength, 700);
    // Prefill returns logits for every prompt position: prompt × vocab floats.
    const act = prompt * vocab * 4 + prompt * hidden * 4 * 16;
    components.push(comp('llm.embedTokens', l.embedTokens.path, emb.bytes, prompt * hidden * 4));
    components.push(comp('llm.decoder', l.decoder.path, dec.bytes, act, [`KV cache for ${maxLength} tokens`], kvBytes));
  }
  for (const [id, mode] of Object.entries(m.modes)) {
    for (const [k, ref] of Object.entries(mode.projectors)) {
      if (!ref || components.some((c) => c.path === ref.path)) continue;
      const f = await onnxFiles(pack.resolve(ref.path));
      components.push(comp(`modes.${id}.projectors.${k}`, ref.path, f.bytes, 0));
    }
  }

  const totalBytes = components.reduce((a, c) => a + c.totalBytes, 0);
  const freeBytes = o.freeBytes ?? availableMemory();
  const fits = totalBytes <= freeBytes * (o.headroom ?? 0.9);
  notes.push('Host memory for the CPU provider. With CUDA/DirectML the weights and activations live in GPU memory instead; compare with the card.');
  return {
    pack: pack.dir,
    ...(m.diffusion ? { imageSize: m.diffusion.imageSize } : {}),
    ...(tapInfo ? { tap: tapInfo } : {}),
    ...(m.llm ? { maxLength: o.maxLength ?? m.llm.maxLength } : {}),
    components,
    totalBytes,
    freeBytes,
    fits,
    notes,
  };
}

/**
 * Memory left under the process's cgroup limit (containers, systemd slices, CI runners), or
 * undefined when there is none. cgroup v2 (`memory.max` − `memory.current`) first, then v1
 * (`memory/memory.limit_in_bytes` − `memory/memory.usage_in_bytes`). os.freemem() alone reports
 * the host's memory, so a container with a 4 GiB limit on a 64 GiB host would load a pack that the
 * kernel then kills.
 */
export function cgroupAvailable(root = '/sys/fs/cgroup'): number | undefined {
  const num = (f: string): number | undefined => {
    try {
      const t = fs.readFileSync(path.join(root, f), 'utf8').trim();
      const n = Number(t);
      return t !== 'max' && Number.isFinite(n) ? n : undefined;
    } catch {
      return undefined;
    }
  };
  for (const [limitFile, usageFile] of [
    ['memory.max', 'memory.current'],
    ['memory/memory.limit_in_bytes', 'memory/memory.usage_in_bytes'],
  ]) {
    const limit = num(limitFile);
    // v1 reports "no limit" as a huge number (page-rounded 2^63): treat anything above 2^60 as none.
    if (limit === undefined || limit >= 2 ** 60) continue;
    return Math.max(0, limit - (num(usageFile) ?? 0));
  }
  return undefined;
}

/**
 * Free memory to plan with: TWINLENS_MEMORY_LIMIT (bytes, e.g. 8e9) when set, else the smaller of
 * what the OS reports available and what the cgroup limit leaves.
 */
export function availableMemory(): number {
  const limit = Number(process.env.TWINLENS_MEMORY_LIMIT);
  if (Number.isFinite(limit) && limit > 0) return limit;
  const cg = cgroupAvailable();
  return cg === undefined ? os.freemem() : Math.min(os.freemem(), cg);
}

/**
 * Throws INSUFFICIENT_MEMORY when the estimate does not fit, unless forced
 * (option or TWINLENS_FORCE_LOAD=1). A pack the estimator cannot read is not
 * refused here: loading reports its own, more precise errors.
 */
export async function assertPackFits(dir: string, o: EstimateOptions & { force?: boolean } = {}): Promise<PackEstimate | undefined> {
  if (o.force || process.env.TWINLENS_FORCE_LOAD === '1') return undefined;
  let e: PackEstimate;
  try {
    e = await estimatePack(dir, o);
  } catch {
    return undefined;
  }
  if (!e.fits) {
    const top = [...e.components]
      .sort((a, b) => b.totalBytes - a.totalBytes)
      .slice(0, 3)
      .map((c) => `${c.label} ${gib(c.totalBytes)}`)
      .join(', ');
    throw new TwinLensError(
      'INSUFFICIENT_MEMORY',
      `Pack ${path.basename(e.pack)} needs about ${gib(e.totalBytes)} of memory but ${gib(e.freeBytes)} is available (largest: ${top})`,
      'Close other programs, use smaller variants (an fp16/q4f16 LLM, a shorter --max-length, an earlier tap), or load anyway with TWINLENS_FORCE_LOAD=1 in the environment',
    );
  }
  return e;
}

function gib(n: number): string {
  return `${(n / 2 ** 30).toFixed(1)} GiB`;
}
