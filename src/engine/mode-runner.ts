/**
 * ModeRunner: the parts of one answer mode — its projector sessions and its
 * LLM (the pack's, or the mode's own stage-2 weights) — opened on first use.
 * The tokenizer is shared by every mode of a pack.
 */
import type { GenerationSettings } from '../shared/contract.js';
import { TwinLensError } from '../shared/errors.js';
import type { ModeProjectors, VisualTokens } from './fusion/visual-tokens.js';
import { type GenerationResult, LlmGenerator } from './llm/generator.js';
import { TextTokenizer } from './llm/tokenizer.js';
import type { Pack } from './pack/pack.js';
import type { SessionPool } from './sessions.js';

const tokenizers = new WeakMap<Pack, Promise<TextTokenizer>>();

function tokenizerFor(pack: Pack): Promise<TextTokenizer> {
  let p = tokenizers.get(pack);
  if (!p) {
    const llm = pack.manifest.llm!;
    p = TextTokenizer.load(pack.resolve(llm.tokenizer), llm.tokenizerConfig ? pack.resolve(llm.tokenizerConfig) : undefined);
    p.catch(() => tokenizers.delete(pack));
    tokenizers.set(pack, p);
  }
  return p;
}

export class ModeRunner {
  private proj?: Promise<ModeProjectors>;
  private gen?: Promise<LlmGenerator>;

  constructor(
    readonly id: string,
    private pack: Pack,
    private pool: SessionPool,
  ) {}

  projectors(): Promise<ModeProjectors> {
    this.proj ??= (async () => {
      const mode = this.pack.manifest.modes[this.id];
      const out: ModeProjectors = {};
      for (const k of ['clip', 'diffusion', 'xattn'] as const) {
        const ref = mode.projectors[k];
        if (ref) out[k] = await this.pool.get(this.pack.resolve(ref.path), `projector.${this.id}.${k}`);
      }
      return out;
    })();
    this.proj.catch(() => (this.proj = undefined));
    return this.proj;
  }

  generator(): Promise<LlmGenerator> {
    this.gen ??= (async () => {
      const llm = this.pack.manifest.llm;
      if (!llm) throw new TwinLensError('MODE_UNAVAILABLE', 'The pack has no language model');
      const mode = this.pack.manifest.modes[this.id];
      const embedRel = mode.llm?.embedTokens?.path ?? llm.embedTokens.path;
      const decoderRel = mode.llm?.decoder?.path ?? llm.decoder.path;
      const own = embedRel !== llm.embedTokens.path || decoderRel !== llm.decoder.path;
      const prefix = own ? `llm.${this.id}` : 'llm';
      const [embedTokens, decoder, tokenizer] = await Promise.all([
        this.pool.get(this.pack.resolve(embedRel), `${prefix}.embed_tokens`),
        this.pool.get(this.pack.resolve(decoderRel), `${prefix}.decoder`),
        tokenizerFor(this.pack),
      ]);
      return new LlmGenerator({ embedTokens, decoder, tokenizer, section: llm, chatTemplate: llm.chatTemplate });
    })();
    this.gen.catch(() => (this.gen = undefined));
    return this.gen;
  }

  async generate(
    question: string,
    visual: VisualTokens,
    settings: Required<GenerationSettings>,
    signal: AbortSignal | undefined,
    onToken: (text: string, id: number) => void,
  ): Promise<GenerationResult> {
    const g = await this.generator();
    return g.generate({ question, visual, settings, signal, onToken });
  }

  dispose(): void {
    void this.gen?.then((g) => g.dispose()).catch(() => undefined);
  }
}
