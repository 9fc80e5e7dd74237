/**
 * DiffusionExtractor: question-aware features from a Stable Diffusion UNet,
 * exactly as DESIGN.md §1 describes. VAE-encode the image (× latent scale),
 * add seeded noise for timestep t, run the UNet once on the batch
 * [unconditional, conditional] and read intermediate tensors exposed by graph
 * surgery; features at guidance s are f_u + s·(f_c − f_u), optionally
 * averaged over several noise draws. Latents and unconditional outputs are
 * cached per image, so asking a second question costs one UNet row.
 */
import { TwinLensError, throwIfAborted } from '../../shared/errors.js';
import type { DiffusionSection } from '../../shared/manifest.js';
import type { CrossAttentionMaps, TapFeatures } from '../../shared/contract.js';
import type { LoadedImage } from '../image/image.js';
import { rgbResizedCropped, toChw } from '../image/image.js';
import type { HostTensor, OnnxSession } from '../onnx/session.js';
import { asFloat32 } from '../onnx/session.js';
import { ByteLru, typedBytes } from '../util/lru.js';
import { type StageTimer, timed } from '../util/timer.js';
import { attentionRow, guide, resizeMaps, tapRow } from './layout.js';
import { drawSeed, gaussian64 } from './noise.js';
import type { PromptEncoder } from './prompt-encoder.js';
import type { NoiseSchedule } from './schedule.js';
import type { GraphTaps } from '../graph/graph-taps.js';

export interface ExtractRequest {
  image: LoadedImage;
  prompt: string;
  taps: string[];
  t: number;
  guidance: number;
  seed: number;
  ensemble: number;
  crossAttention?: boolean;
  crossAttentionLayers?: string[];
  keepBranches?: boolean;
  timer?: StageTimer;
}

export interface ExtractResult {
  taps: TapFeatures[];
  crossAttention?: CrossAttentionMaps;
  latentShape: number[];
}

export type ProgressFn = (stage: string, done: number, total: number) => void;

export class DiffusionExtractor {
  private latents: ByteLru<{ dims: number[]; data: Float32Array }>;
  private uncond: ByteLru<Record<string, HostTensor>>;

  constructor(
    private section: DiffusionSection,
    private vae: () => Promise<OnnxSession>,
    private prompts: PromptEncoder,
    readonly taps: GraphTaps,
    private schedule: NoiseSchedule,
    cacheBytes = 256 * 2 ** 20,
  ) {
    this.latents = new ByteLru(cacheBytes / 4, (v) => v.data.byteLength);
    this.uncond = new ByteLru(cacheBytes, (v) => typedBytes(Object.values(v).map((x) => x.data)));
  }

  clearCaches(): void {
    this.latents.clear();
    this.uncond.clear();
    this.prompts.clearCache();
  }

  /** VAE latent × scale for an image, cached by content hash. */
  async latent(image: LoadedImage, timer?: StageTimer): Promise<{ dims: number[]; data: Float32Array }> {
    const key = image.hash;
    const hit = this.latents.get(key);
    if (hit) return hit;
    const size = this.section.imageSize;
    const pixels = await timed(timer, 'preprocess', async () => toChw(await rgbResizedCropped(image, size, size, 'lanczos3'), 1 / 127.5, [1, 1, 1], [1, 1, 1]));
    const vae = await this.vae();
    const out = await timed(timer, 'vae', () => vae.run({ sample: { dims: [1, 3, size, size], data: pixels } }, [this.section.vaeOutput]));
    const t = out[this.section.vaeOutput];
    if (!t || t.dims.length !== 4) {
      throw new TwinLensError('ONNX_IO_MISMATCH', `VAE encoder output "${this.section.vaeOutput}" has shape [${t?.dims.join(',')}], expected [1, 4, h, w]`);
    }
    let dims = t.dims;
    let raw = asFloat32(t);
    if (this.section.vaeOutput === 'latent_parameters') {
      // Optimum ≥ 2 exports the posterior's parameters, mean ‖ log-variance along the channels
      // (diffusers' DiagonalGaussianDistribution); the mean is the latent, as for the built-in pack.
      const [b, c, h, w] = dims;
      if (c % 2 !== 0)
        throw new TwinLensError(
          'ONNX_IO_MISMATCH',
          `VAE encoder output "latent_parameters" has ${c} channels, expected mean and log-variance (an even number)`,
        );
      dims = [b, c / 2, h, w];
      raw = raw.subarray(0, (c / 2) * h * w);
    }
    const data = raw.map((x) => x * this.section.latentScale);
    const v = { dims, data };
    this.latents.set(key, v);
    return v;
  }

  async extract(req: ExtractRequest, signal?: AbortSignal, progress?: ProgressFn): Promise<ExtractResult> {
    const steps = 3 + req.ensemble;
    progress?.('vae', 0, steps);
    const latent = await this.latent(req.image, req.timer);
    throwIfAborted(signal, 'Feature extraction');
    progress?.('text', 1, steps);
    const [empty, cond] = await timed(req.timer, 'text_encoder', () => Promise.all([this.prompts.encode(''), this.prompts.encode(req.prompt)]));
    throwIfAborted(signal, 'Feature extraction');

    const tapNames = await Promise.all(req.taps.map((a) => this.taps.resolve(a)));
    const xattn = req.crossAttention ? await this.taps.crossAttentionTensors(this.section.crossAttention.pattern, req.crossAttentionLayers) : [];
    const outputs = [...new Set([...tapNames, ...xattn])];
    if (!outputs.length) throw new TwinLensError('INVALID_ARGUMENT', 'No taps requested', 'Pass at least one tap alias, e.g. U-L1-R1-B0-Cross-Q');
    progress?.('unet-load', 2, steps);
    const unet = await this.taps.session(outputs);
    const [, C, h, w] = latent.dims;
    const n = C * h * w;
    const L = this.prompts.maxLength;
    const D = cond.hiddenSize;

    const sums = new Map<string, { u: Float32Array; c: Float32Array; dims: number[] }>();
    for (let k = 0; k < req.ensemble; k++) {
      throwIfAborted(signal, 'Feature extraction');
      progress?.('unet', 3 + k, steps);
      const eps = gaussian64(drawSeed(req.seed, k), n);
      const xt = this.schedule.addNoise(latent.data, eps, req.t);
      const ukey = `${req.image.hash}|${req.t}|${drawSeed(req.seed, k)}|${outputs.join(',')}`;
      // Exports with a static batch of 2 (some fixed-shape exports) cannot run the conditional row alone.
      const fixed = unet.inputs.get('sample')?.shape[0];
      const cachedU = typeof fixed === 'number' && fixed > 0 && fixed !== 1 ? undefined : this.uncond.get(ukey);
      const batch = cachedU ? 1 : 2;
      const sample = new Float32Array(batch * n);
      for (let b = 0; b < batch; b++) sample.set(xt, b * n);
      const ehs = new Float32Array(batch * L * D);
      if (batch === 2) {
        ehs.set(empty.hidden, 0);
        ehs.set(cond.hidden, L * D);
      } else ehs.set(cond.hidden, 0);
      const feeds: Record<string, HostTensor> = {
        sample: { dims: [batch, C, h, w], data: sample },
        timestep: { dims: timestepDims(unet), data: Float32Array.of(req.t) },
        encoder_hidden_states: { dims: [batch, L, D], data: ehs },
      };
      const out = await timed(req.timer, batch === 2 ? 'unet_batch2' : 'unet_cond_only', () => unet.run(pickFeeds(unet, feeds), outputs));
      const rows: Record<string, { u: Float32Array; c: Float32Array; dims: number[] }> = {};
      const uncached: Record<string, HostTensor> = {};
      for (const name of outputs) {
        const t = out[name];
        if (!t) throw new TwinLensError('ONNX_RUN_FAILED', `UNet did not return tensor ${name}`);
        const data = asFloat32(t);
        const half = data.length / batch;
        const c = batch === 2 ? data.subarray(half) : data;
        // Row dims: taps are [batch, …], attention probabilities [batch·heads, …].
        const rowDims = [t.dims[0] / batch, ...t.dims.slice(1)];
        let u: Float32Array;
        if (cachedU) u = asFloat32(cachedU[name]);
        else {
          u = data.slice(0, half);
          uncached[name] = { dims: rowDims, data: u };
        }
        rows[name] = { u, c, dims: rowDims };
      }
      if (!cachedU) this.uncond.set(ukey, uncached);
      for (const [name, r] of Object.entries(rows)) {
        const acc = sums.get(name);
        if (!acc) sums.set(name, { u: Float32Array.from(r.u), c: Float32Array.from(r.c), dims: r.dims });
        else
          for (let i = 0; i < r.c.length; i++) {
            acc.u[i] += r.u[i];
            acc.c[i] += r.c[i];
          }
      }
    }
    for (const acc of sums.values()) {
      for (let i = 0; i < acc.c.length; i++) {
        acc.u[i] /= req.ensemble;
        acc.c[i] /= req.ensemble;
      }
    }

    const taps: TapFeatures[] = req.taps.map((alias, i) => {
      const name = tapNames[i];
      const acc = sums.get(name)!;
      const u = tapRow(acc.dims, acc.u, 0, h, w, name);
      const c = tapRow(acc.dims, acc.c, 0, h, w, name);
      return {
        alias,
        tensorName: name,
        height: c.height,
        width: c.width,
        channels: c.channels,
        data: guide(u.data, c.data, req.guidance),
        ...(req.keepBranches ? { cond: c.data, uncond: u.data } : {}),
      };
    });

    let crossAttention: CrossAttentionMaps | undefined;
    if (req.crossAttention) {
      if (!xattn.length) {
        throw new TwinLensError(
          'TAP_NOT_FOUND',
          `No cross-attention tensors match /${this.section.crossAttention.pattern}/ in the UNet graph`,
          'Optimised exports fuse attention and lose these tensors; use an unoptimised fp32 export',
        );
      }
      crossAttention = this.crossAttentionMaps(xattn, sums, cond.tokens, h, w);
    }
    progress?.('done', steps, steps);
    return { taps, crossAttention, latentShape: latent.dims };
  }

  /** Head-averaged conditional maps per layer, resized to the finest grid and averaged over layers. */
  private crossAttentionMaps(
    names: string[],
    sums: Map<string, { u: Float32Array; c: Float32Array; dims: number[] }>,
    tokens: string[],
    latentH: number,
    latentW: number,
  ): CrossAttentionMaps {
    const per = names.map((name) => {
      const acc = sums.get(name)!;
      const row = attentionRow(acc.dims, acc.c, 1, 0);
      const grid = gridOf(row.hw, latentH, latentW);
      return { name, ...row, ...grid };
    });
    const H = Math.max(...per.map((p) => p.height));
    const W = Math.max(...per.map((p) => p.width));
    const count = tokens.length;
    const maps = new Float32Array(count * H * W);
    for (const p of per) {
      const first = p.maps.subarray(0, count * p.hw);
      const r = resizeMaps(first, count, p.height, p.width, H, W);
      for (let i = 0; i < maps.length; i++) maps[i] += r[i] / per.length;
    }
    return { tokens, height: H, width: W, maps, layers: names };
  }
}

function gridOf(hw: number, latentH: number, latentW: number): { height: number; width: number } {
  const f = Math.sqrt((latentH * latentW) / hw);
  return { height: Math.round(latentH / f), width: Math.round(latentW / f) };
}

/** Timestep shape as the export declares it: [1] for most, [] for some Optimum exports. */
function timestepDims(unet: OnnxSession): number[] {
  const meta = unet.inputs.get('timestep');
  return meta && meta.shape.length === 0 ? [] : [1];
}

/** A pruned graph may have dropped inputs it no longer needs. */
function pickFeeds(s: OnnxSession, feeds: Record<string, HostTensor>): Record<string, HostTensor> {
  const out: Record<string, HostTensor> = {};
  for (const name of s.inputNames) {
    if (!feeds[name]) {
      throw new TwinLensError(
        'ONNX_IO_MISMATCH',
        `UNet input "${name}" is not one of sample, timestep, encoder_hidden_states`,
        'The UNet does not follow the diffusers ONNX contract',
      );
    }
    out[name] = feeds[name];
  }
  return out;
}
