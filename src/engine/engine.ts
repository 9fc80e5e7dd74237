/**
 * Engine: one open model pack and everything that runs on it. It wires the
 * pack's parts (sessions, prompt encoder, extractors, projectors, LLM
 * generators) lazily — nothing is loaded until a request needs it — and
 * implements the contract's long operations: `ask` (one answer per mode,
 * streamed) and `features` (taps, cross-attention, CLIP patches). It runs
 * inside the engine process; hosts reach it through EngineClient.
 */
import * as path from 'node:path';
import type {
  AskParamsParsed,
  AskResult,
  EngineEvent,
  FeatureMap,
  FeaturesParamsParsed,
  FeaturesResult,
  ModeAnswer,
  PackInfo,
  ResolvedDiffusionSettings,
} from '../shared/contract.js';
import { TwinLensError, throwIfAborted, toTwinLensError } from '../shared/errors.js';
import type { DiffusionDefaults, ModeSection, PackManifest } from '../shared/manifest.js';
import { ClipExtractor } from './clip/extractor.js';
import { clipInputSpec, type PreprocessorConfig } from './clip/preprocess.js';
import { DiffusionExtractor } from './diffusion/extractor.js';
import { PromptEncoder } from './diffusion/prompt-encoder.js';
import { NoiseSchedule, type SchedulerConfig } from './diffusion/schedule.js';
import { GraphTaps } from './graph/graph-taps.js';
import { foldTokens } from './fusion/fold-tokens.js';
import { type Tokens, visualTokens } from './fusion/visual-tokens.js';
import { assertPackFits } from './importers/memory-estimate.js';
import { loadImage, type LoadedImage } from './image/image.js';
import { FeatureCache } from './feature-cache.js';
import { ModeRunner } from './mode-runner.js';
import type { ProviderChoice } from './onnx/providers.js';
import { describeModes, describeTaps } from './pack/describe.js';
import { defaultGraphCacheDir } from './graph/edit-cache.js';
import { checkExternalData } from './pack/external-data.js';
import { Pack } from './pack/pack.js';
import { SessionPool } from './sessions.js';
import { type StageTimer, timed } from './util/timer.js';
import { allModeIds } from '../shared/modes.js';

export interface EngineOptions {
  provider?: ProviderChoice;
  /** Where edited graphs go when the pack folder is read-only (default: defaultGraphCacheDir()). */
  cacheDir?: string;
  maxImagePixels?: number;
  /** Open even when the memory estimate says the pack cannot fit (also TWINLENS_FORCE_LOAD=1). */
  force?: boolean;
}

export interface RequestContext {
  signal?: AbortSignal;
  emit?: (e: EngineEvent) => void;
  /** Collects per-stage timings (bench). */
  timer?: StageTimer;
  /** Long runs (evaluate, leakage) call this between items so that questions asked meanwhile go first (process/lanes.ts). */
  yieldToInteractive?: () => Promise<void>;
}

const DEFAULT_MAX_TOKENS = 64;

export class Engine {
  readonly pool: SessionPool;
  private diffusion?: DiffusionExtractor;
  private clip?: ClipExtractor;
  private modes = new Map<string, ModeRunner>();
  /** Visual tokens across requests: the other columns and re-runs of a question reuse the UNet pass. */
  readonly featureCache = new FeatureCache();
  private info!: PackInfo;
  private disposed = false;

  private constructor(
    readonly pack: Pack,
    private opts: EngineOptions,
  ) {
    this.pool = new SessionPool({ provider: opts.provider ?? 'auto' });
    // A packaged app's built-in pack is read-only: its edited UNet graph goes to the user's cache.
    this.opts = { ...opts, cacheDir: opts.cacheDir ?? defaultGraphCacheDir() };
  }

  static async open(dir: string, opts: EngineOptions = {}): Promise<Engine> {
    const pack = Pack.load(dir);
    await checkExternalData(pack);
    await assertPackFits(pack.dir, { force: opts.force });
    const e = new Engine(pack, opts);
    try {
      e.build();
      e.info = {
        name: pack.name,
        dir: pack.dir,
        description: pack.manifest.description,
        imageSize: pack.manifest.diffusion?.imageSize,
        modes: describeModes(pack),
        taps: e.diffusion ? await describeTaps(pack, e.diffusion.taps) : [],
        defaults: pack.manifest.diffusion ? e.resolveDiffusion({}, undefined, '') : undefined,
        components: {},
        hasDiffusion: !!pack.manifest.diffusion,
        hasClip: !!pack.manifest.clip,
        hasLlm: !!pack.manifest.llm,
      };
    } catch (err) {
      e.dispose();
      throw err;
    }
    return e;
  }

  /** Why a part listed in pack.json could not be set up (a missing file...): the rest of the pack still opens. */
  private broken: { diffusion?: string; clip?: string } = {};

  private build(): void {
    const m = this.pack.manifest;
    const pool = this.pool;
    // A part whose files are missing or broken is set aside with its reason instead of refusing the whole
    // pack: the modes that need it are listed unavailable (Pack.modeUnavailableReason), the others work.
    if (m.diffusion) {
      try {
        this.buildDiffusion(m.diffusion, pool);
      } catch (err) {
        if (err instanceof TwinLensError && (err.code === 'PACK_FILE_MISSING' || err.code === 'PACK_MANIFEST_INVALID')) this.broken.diffusion = err.oneLine();
        else throw err;
      }
    }
    if (m.clip) {
      try {
        this.buildClip(m.clip, pool);
      } catch (err) {
        if (err instanceof TwinLensError && (err.code === 'PACK_FILE_MISSING' || err.code === 'PACK_MANIFEST_INVALID')) this.broken.clip = err.oneLine();
        else throw err;
      }
    }
  }

  private buildDiffusion(d: NonNullable<PackManifest['diffusion']>, pool: SessionPool): void {
    const textPath = this.pack.resolveModel(d.textEncoder.path);
    const prompts = new PromptEncoder(
      this.pack.resolve(d.tokenizer),
      () => pool.get(textPath, 'text_encoder'),
      d.textEncoder.maxLength,
      d.padTokenId,
      d.textEncoder.output,
    );
    const unetPath = this.pack.resolveModel(d.unet.path);
    const taps = new GraphTaps(unetPath, pool, 'unet', d.taps, this.opts.cacheDir);
    const vaePath = this.pack.resolveModel(d.vaeEncoder.path);
    const schedule = new NoiseSchedule(this.pack.readJson<SchedulerConfig>(d.scheduler));
    this.diffusion = new DiffusionExtractor(d, () => pool.get(vaePath, 'vae_encoder'), prompts, taps, schedule);
  }

  private buildClip(c: NonNullable<PackManifest['clip']>, pool: SessionPool): void {
    const visionPath = this.pack.resolveModel(c.vision.path);
    const spec = clipInputSpec(this.pack.readJson<PreprocessorConfig>(c.preprocessor));
    const graph = new GraphTaps(visionPath, pool, 'clip_vision', {}, this.opts.cacheDir);
    this.clip = new ClipExtractor(c, spec, {
      tensorName: async () => {
        if (c.layer === 'last') return 'last_hidden_state';
        if (c.layer === 'penultimate') {
          if (!c.numLayers)
            throw new TwinLensError('PACK_MANIFEST_INVALID', 'clip.layer "penultimate" needs clip.numLayers', 'Set numLayers to the vision tower depth');
          return graph.resolve(`vision_model.encoder.layers.${c.numLayers - 2}`);
        }
        return graph.resolve(c.layer);
      },
      session: (outs) => graph.session(outs),
    });
  }

  packInfo(): PackInfo {
    const components: PackInfo['components'] = {};
    for (const [label, provider] of Object.entries(this.pool.providers())) components[label] = { path: label, provider, loaded: true };
    return { ...this.info, components };
  }

  providers(): Record<string, string> {
    return this.pool.providers();
  }

  /** Pack defaults ← the mode's training settings ← the user's overrides. */
  resolveDiffusion(user: AskParamsParsed['diffusion'], mode: Partial<DiffusionDefaults> | undefined, question: string): ResolvedDiffusionSettings {
    const d = this.pack.manifest.diffusion;
    if (!d) throw new TwinLensError('MODE_UNAVAILABLE', 'This pack has no diffusion model');
    const base = { ...d.defaults, ...(mode ?? {}) };
    const promptSource = user.promptSource ?? base.prompt;
    const prompt = promptSource === 'question' ? question : promptSource === 'empty' ? '' : (user.customPrompt ?? '');
    return {
      t: user.t ?? base.t,
      guidance: user.guidance ?? base.guidance,
      tap: user.tap ?? base.tap,
      promptSource,
      prompt,
      seed: user.seed ?? base.seed,
      ensemble: user.ensemble ?? base.ensemble,
    };
  }

  private requireDiffusion(): DiffusionExtractor {
    if (!this.diffusion && this.broken.diffusion)
      throw new TwinLensError(
        'MODE_UNAVAILABLE',
        `Pack ${this.pack.name}: the diffusion model could not be set up: ${this.broken.diffusion}`,
        'Restore the missing file, or re-import the pack',
      );
    if (!this.diffusion) throw new TwinLensError('MODE_UNAVAILABLE', `Pack ${this.pack.name} has no diffusion model`, 'Open a pack with a diffusion section');
    return this.diffusion;
  }

  private requireClip(): ClipExtractor {
    if (!this.clip && this.broken.clip)
      throw new TwinLensError(
        'MODE_UNAVAILABLE',
        `Pack ${this.pack.name}: the CLIP vision encoder could not be set up: ${this.broken.clip}`,
        'Restore the missing file, or re-import the pack',
      );
    if (!this.clip) throw new TwinLensError('MODE_UNAVAILABLE', `Pack ${this.pack.name} has no CLIP vision encoder`, 'Open a pack with a clip section');
    return this.clip;
  }

  private async image(input: AskParamsParsed['image']): Promise<LoadedImage> {
    return loadImage(input, this.opts.maxImagePixels);
  }

  async features(params: FeaturesParamsParsed, ctx: RequestContext = {}): Promise<FeaturesResult> {
    const started = performance.now();
    const image = await this.image(params.image);
    const diffusion = this.requireDiffusion();
    const settings = this.resolveDiffusion(
      { ...params.diffusion, promptSource: params.diffusion.promptSource ?? 'custom', customPrompt: params.diffusion.customPrompt ?? params.prompt },
      undefined,
      params.prompt,
    );
    const taps = params.taps.length ? params.taps : [settings.tap];
    const res = await diffusion.extract(
      {
        image,
        prompt: settings.prompt,
        taps,
        t: settings.t,
        guidance: settings.guidance,
        seed: settings.seed,
        ensemble: settings.ensemble,
        crossAttention: params.crossAttention,
        crossAttentionLayers: params.crossAttentionLayers,
        keepBranches: params.keepBranches,
      },
      ctx.signal,
      (stage, done, total) => ctx.emit?.({ type: 'progress', stage, done, total }),
    );
    let clip: FeatureMap | undefined;
    if (params.clip) clip = await this.requireClip().extract(image);
    return { imageHash: image.hash, settings, taps: res.taps, crossAttention: res.crossAttention, clip, ms: performance.now() - started };
  }

  private modeRunner(id: string): ModeRunner {
    let r = this.modes.get(id);
    if (!r) {
      const reason = this.pack.modeUnavailableReason(id);
      if (reason) throw new TwinLensError('MODE_UNAVAILABLE', `Mode "${id}" is unavailable: ${reason}`);
      r = new ModeRunner(id, this.pack, this.pool);
      this.modes.set(id, r);
    }
    return r;
  }

  /** "all" = every non-extra mode (shared/modes.ts); an unavailable one answers with its reason. */
  private pickModes(modes: AskParamsParsed['modes']): string[] {
    if (modes !== 'all') return modes;
    return allModeIds(Object.entries(this.pack.manifest.modes).map(([id, m]) => ({ id, extra: m.extra })));
  }

  async ask(params: AskParamsParsed, ctx: RequestContext = {}): Promise<AskResult> {
    const image = await this.image(params.image);
    const ids = this.pickModes(params.modes);
    if (!ids.length) throw new TwinLensError('MODE_UNAVAILABLE', `Pack ${this.pack.name} has no answer modes`, 'Use `twinlens features` for feature maps');
    const gen = {
      maxTokens: params.generation.maxTokens ?? DEFAULT_MAX_TOKENS,
      temperature: params.generation.temperature ?? 0,
      topP: params.generation.topP ?? 1,
      sampleSeed: params.generation.sampleSeed ?? 0,
    };
    // Features shared between modes with identical settings are computed once (FeatureCache, across requests too).
    const answers: Record<string, ModeAnswer> = {};
    let settingsUsed: ResolvedDiffusionSettings | undefined;
    for (const id of ids) {
      const started = performance.now();
      ctx.emit?.({ type: 'mode-start', mode: id });
      let answer: ModeAnswer;
      try {
        throwIfAborted(ctx.signal, 'Generation');
        const runner = this.modeRunner(id);
        const mode = this.pack.manifest.modes[id];
        const feats: { clip?: Tokens; diffusion?: Tokens } = {};
        if (mode.inputs.includes('clip')) feats.clip = await this.clipTokens(image, ctx);
        if (mode.inputs.includes('diffusion')) {
          const s = this.resolveDiffusion(params.diffusion, mode.diffusion, params.question);
          settingsUsed ??= s;
          feats.diffusion = await this.diffusionTokens(image, s, ctx, mode.diffusionFold);
        }
        throwIfAborted(ctx.signal, 'Generation');
        const projectors = await runner.projectors();
        const visual = await timed(ctx.timer, 'projectors', () => visualTokens(mode, projectors, feats));
        const out = await runner.generate(params.question, visual, gen, ctx.signal, (text, tokenId) => ctx.emit?.({ type: 'token', mode: id, text, tokenId }));
        ctx.timer?.record('prefill', out.prefillMs);
        if (out.tokens > 1) ctx.timer?.record('decode_per_token', out.decodeMs / (out.tokens - 1));
        answer = {
          mode: id,
          text: out.text,
          tokens: out.tokens,
          ms: performance.now() - started,
          prefillMs: out.prefillMs,
          decodeMs: out.decodeMs,
          stop: out.stop,
        };
      } catch (e) {
        const err = toTwinLensError(e);
        answer = {
          mode: id,
          text: '',
          tokens: 0,
          ms: performance.now() - started,
          stop: err.code === 'CANCELLED' ? 'cancelled' : 'error',
          error: err.toJSON(),
        };
      }
      answers[id] = answer;
      ctx.emit?.({ type: 'mode-done', mode: id, answer });
    }
    const resolved = settingsUsed ?? (this.pack.manifest.diffusion ? this.resolveDiffusion(params.diffusion, undefined, params.question) : emptySettings());
    return { imageHash: image.hash, question: params.question, answers, settings: { ...resolved, ...gen }, providers: this.pool.providers() };
  }

  private clipTokens(image: LoadedImage, ctx: RequestContext): Promise<Tokens> {
    return this.featureCache.get(FeatureCache.clipKey(image.hash), () =>
      this.requireClip()
        .extract(image, ctx.timer)
        .then((f) => ({ data: f.data, count: f.height * f.width, dim: f.channels })),
    );
  }

  /** The tap's tokens (cached unfolded: modes that fold and modes that do not share one UNet pass), folded for the mode. */
  private async diffusionTokens(image: LoadedImage, s: ResolvedDiffusionSettings, ctx: RequestContext, fold = 1): Promise<Tokens> {
    const g = await this.featureCache.get(FeatureCache.diffusionKey(image.hash, s), () =>
      this.requireDiffusion()
        .extract(
          { image, prompt: s.prompt, taps: [s.tap], t: s.t, guidance: s.guidance, seed: s.seed, ensemble: s.ensemble, timer: ctx.timer },
          ctx.signal,
          (stage, done, total) => ctx.emit?.({ type: 'progress', stage, done, total }),
        )
        .then((r) => {
          const tap = r.taps[0];
          return { data: tap.data, count: tap.height * tap.width, dim: tap.channels, grid: { height: tap.height, width: tap.width } };
        }),
    );
    return foldTokens(g, fold);
  }

  /** Forget cached latents and features (bench measures cold stages). */
  clearCaches(): void {
    this.featureCache.clear();
    this.diffusion?.clearCaches();
    this.clip?.clearCache();
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    for (const r of this.modes.values()) r.dispose();
    this.pool.dispose();
  }

  get dir(): string {
    return path.resolve(this.pack.dir);
  }
}

function emptySettings(): ResolvedDiffusionSettings {
  return { t: 0, guidance: 0, tap: '', promptSource: 'question', prompt: '', seed: 0, ensemble: 1 };
}

export type { ModeSection };
