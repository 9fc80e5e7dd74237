/**
 * A scripted engine for UI specs that need situations the tiny fixture pack
 * cannot produce on demand: a mode the pack cannot serve, a crash and
 * restart at a chosen moment, a pack that fails to open, slow streaming.
 * It plugs into the real web server (`startServer({engine})`), so the page,
 * the WebSocket wire and the server's schema checks are all real; only the
 * engine process is replaced. Every call's parsed params are recorded.
 */
import type { AskResult, EngineEvent, EngineStatus, FeaturesResult, PackInfo } from '../../src/shared/contract.js';

type State = { state: 'starting' | 'ready' | 'crashed' | 'stopped'; message?: string; restarts: number; pid?: number };

export const FAKE_PACK: PackInfo = {
  name: 'fake-pack',
  dir: '/packs/fake-pack',
  description: 'Scripted pack for UI tests',
  imageSize: 64,
  modes: [
    { id: 'clip', label: 'CLIP', description: 'CLIP patch tokens', inputs: ['clip'], fusion: 'none', extra: false, available: true },
    { id: 'diffusion', label: 'Diffusion', description: 'UNet features', inputs: ['diffusion'], fusion: 'none', extra: false, available: true },
    {
      id: 'fused',
      label: 'Fused',
      description: 'Cross-attention fusion',
      inputs: ['clip', 'diffusion'],
      fusion: 'cross-attention',
      extra: false,
      available: false,
      reason: 'this pack has no trained fusion projector',
    },
    { id: 'concat', label: 'Fused (concat)', description: 'Concatenation', inputs: ['clip', 'diffusion'], fusion: 'concat', extra: true, available: true },
  ],
  taps: [
    { alias: 'U-L1-R1-B0-Cross-Q', target: 'up_blocks.1.attentions.1.transformer_blocks.0.attn2.to_q', available: true, study: true },
    { alias: 'U-L2-R2-Res-Out', target: 'up_blocks.2.resnets.2', available: true, study: true },
    { alias: 'M-L0-R0-B0-Self-Q', target: 'mid_block.attentions.0.transformer_blocks.0.attn1.to_q', available: false, reason: 'pruned', study: false },
  ],
  defaults: { t: 50, guidance: 4, tap: 'U-L1-R1-B0-Cross-Q', promptSource: 'question', prompt: '', seed: 0, ensemble: 1 },
  components: { unet: { path: 'unet/model.onnx', provider: 'cpu', loaded: true } },
  hasDiffusion: true,
  hasClip: true,
  hasLlm: true,
};

const sleep = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((resolve) => {
    const t = setTimeout(resolve, ms);
    signal?.addEventListener('abort', () => {
      clearTimeout(t);
      resolve();
    });
  });

export class FakeEngine {
  state: State = { state: 'ready', restarts: 0, pid: 4242 };
  packDir = FAKE_PACK.dir;
  pack: PackInfo = FAKE_PACK;
  calls: Array<{ method: string; params: unknown }> = [];
  restartCalls = 0;
  /** Milliseconds between streamed tokens. */
  tokenDelayMs = 20;
  private listeners = new Set<(s: State) => void>();

  onState(cb: (s: State) => void): () => void {
    this.listeners.add(cb);
    return () => this.listeners.delete(cb);
  }

  setState(s: State): void {
    this.state = s;
    for (const l of this.listeners) l(s);
  }

  async call(method: string, params: unknown, opts: { signal?: AbortSignal; onEvent?: (e: EngineEvent) => void } = {}): Promise<never> {
    this.calls.push({ method, params });
    return (await this.answer(method, params, opts)) as never;
  }

  private async answer(method: string, params: unknown, { signal, onEvent }: { signal?: AbortSignal; onEvent?: (e: EngineEvent) => void }): Promise<unknown> {
    switch (method) {
      case 'packInfo':
        return this.pack;
      case 'status':
        return {
          pack: this.pack,
          rssBytes: 300 * 2 ** 20,
          heapUsedBytes: 20 * 2 ** 20,
          peakRssBytes: 400 * 2 ** 20,
          providers: { unet: 'cpu', llm: 'cpu' },
          pid: this.state.pid ?? 0,
          restarts: this.state.restarts,
        } satisfies EngineStatus;
      case 'openPack': {
        const dir = (params as { dir: string }).dir;
        if (!dir.includes('good'))
          throw Object.assign(new Error(`${dir} has no pack.json`), { code: 'PACK_NOT_FOUND', hint: 'Pass the folder that contains pack.json' });
        this.pack = { ...FAKE_PACK, name: dir.split('/').pop() ?? dir, dir };
        return this.pack;
      }
      case 'features': {
        const tokens = ['<|startoftext|>', 'what</w>', 'colour</w>', '<|endoftext|>'];
        const maps = new Float32Array(tokens.length * 16);
        maps.forEach((_, i) => (maps[i] = (i % 16) / 16));
        return {
          imageHash: 'x',
          settings: { ...FAKE_PACK.defaults!, prompt: (params as { prompt: string }).prompt },
          taps: [],
          crossAttention: { tokens, height: 4, width: 4, maps, layers: ['a', 'b'] },
          ms: 1,
        } satisfies FeaturesResult;
      }
      case 'ask': {
        const p = params as { question: string; modes: string[] };
        const mode = p.modes[0];
        onEvent?.({ type: 'mode-start', mode });
        const words = `${mode} answer to ${p.question}`.split(' ');
        let text = '';
        let stop: 'eos' | 'cancelled' = 'eos';
        for (const [i, w] of words.entries()) {
          await sleep(this.tokenDelayMs, signal);
          if (signal?.aborted) {
            stop = 'cancelled';
            break;
          }
          const piece = (i ? ' ' : '') + w;
          text += piece;
          onEvent?.({ type: 'token', mode, text: piece, tokenId: i });
        }
        const answer = { mode, text, tokens: text ? text.split(' ').length : 0, ms: 5, stop };
        onEvent?.({ type: 'mode-done', mode, answer });
        return { imageHash: 'x', question: p.question, answers: { [mode]: answer }, settings: {} as AskResult['settings'], providers: {} } satisfies AskResult;
      }
    }
    throw Object.assign(new Error(`fake engine: ${method} not scripted`), { code: 'INTERNAL' });
  }

  async restart(): Promise<void> {
    this.restartCalls += 1;
    this.setState({ state: 'starting', restarts: this.state.restarts });
    await sleep(50);
    this.setState({ state: 'ready', restarts: this.state.restarts + 1, pid: (this.state.pid ?? 0) + 1 });
  }

  async dispose(): Promise<void> {
    this.listeners.clear();
  }
}
