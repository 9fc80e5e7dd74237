/**
 * EngineService: runs inside the engine process and turns protocol messages
 * into Engine calls. Requests run one at a time (ONNX Runtime keeps the
 * cores busy during run(), so parallel requests would only interleave), in
 * two lanes (lanes.ts): evaluate and leakage yield between items to the
 * questions asked meanwhile. Cancel messages are handled between steps
 * through each request's AbortController.
 */
import { CONTRACT, type ContractMethod, type ContractParams, type ContractResults, type EngineEvent, type EngineStatus } from '../../shared/contract.js';
import { TwinLensError, toTwinLensError } from '../../shared/errors.js';
import type { FromEngine, ToEngine } from '../../shared/protocol.js';
import { Engine, type EngineOptions } from '../engine.js';
import { evaluate, listSuites } from '../eval/evaluate.js';
import { leakage } from '../eval/leakage-method.js';
import { composePackMethod } from '../importers/compose-method.js';
import { estimatePack } from '../importers/memory-estimate.js';
import { checkPacks } from '../pack/check-packs.js';
import { downloadModel, listCatalog } from '../hub/catalog-methods.js';
import { Lanes, laneOf } from './lanes.js';
import { visualize } from '../viz/visualize.js';

export interface ServiceOptions extends EngineOptions {
  packDir?: string;
}

export class EngineService {
  private engine: Engine | undefined;
  private lanes = new Lanes();
  private controllers = new Map<string, AbortController>();
  private peakRss = 0;
  private memTimer: NodeJS.Timeout;

  constructor(
    private send: (msg: FromEngine) => void,
    private opts: ServiceOptions,
  ) {
    this.memTimer = setInterval(() => this.sampleMemory(), 250);
    this.memTimer.unref();
  }

  private sampleMemory(): void {
    this.peakRss = Math.max(this.peakRss, process.memoryUsage.rss());
  }

  async init(): Promise<void> {
    if (this.opts.packDir) {
      try {
        this.engine = await Engine.open(this.opts.packDir, this.opts);
      } catch (e) {
        // Keep running without a pack: the host shows the reason and lets the user open another.
        process.stderr.write(`twinlens engine: could not open ${this.opts.packDir}: ${toTwinLensError(e).oneLine()}\n`);
      }
    }
    this.send({ type: 'ready', pid: process.pid });
  }

  handle(msg: ToEngine): void {
    if (msg.type === 'cancel') {
      this.controllers.get(msg.id)?.abort();
      return;
    }
    if (msg.type === 'shutdown') {
      void this.dispose().then(() => process.exit(0));
      return;
    }
    const controller = new AbortController();
    this.controllers.set(msg.id, controller);
    // Cheap reads answer at once instead of waiting behind a running ask (status bar, pack panel), and
    // downloads run beside the queue: they wait on the network, not on ONNX Runtime.
    if (msg.method === 'status' || msg.method === 'packInfo' || msg.method === 'listCatalog' || msg.method === 'downloadModel') {
      void this.dispatch(msg.method, msg.params, msg.id, controller.signal)
        .then((result) => this.send({ type: 'result', id: msg.id, result }))
        .catch((e) => this.send({ type: 'error', id: msg.id, error: toTwinLensError(e).toJSON() }))
        .finally(() => this.controllers.delete(msg.id));
      return;
    }
    this.lanes.submit(laneOf(msg.method), async () => {
      try {
        const result = await this.dispatch(msg.method, msg.params, msg.id, controller.signal);
        this.send({ type: 'result', id: msg.id, result });
      } catch (e) {
        this.send({ type: 'error', id: msg.id, error: toTwinLensError(e).toJSON() });
      } finally {
        this.controllers.delete(msg.id);
        this.sampleMemory();
      }
    });
  }

  private requireEngine(): Engine {
    if (!this.engine) throw new TwinLensError('PACK_NOT_FOUND', 'No model pack is open', 'Open a pack folder (File › Open Pack, or --pack DIR)');
    return this.engine;
  }

  private async dispatch(method: ContractMethod, raw: unknown, id: string, signal: AbortSignal): Promise<unknown> {
    const schema = CONTRACT[method];
    if (!schema) throw new TwinLensError('INVALID_ARGUMENT', `Unknown method ${String(method)}`);
    const parsed = schema.safeParse(raw ?? {});
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      throw new TwinLensError('INVALID_ARGUMENT', `${method}: ${issue.path.join('.') || 'params'}: ${issue.message}`);
    }
    const emit = (event: EngineEvent) => this.send({ type: 'event', id, event });
    const yieldNow = () => this.lanes.yieldToInteractive();
    switch (method) {
      case 'packInfo':
        return this.requireEngine().packInfo();
      case 'openPack': {
        const p = parsed.data as { dir: string };
        const next = await Engine.open(p.dir, this.opts);
        this.engine?.dispose();
        this.engine = next;
        return next.packInfo();
      }
      case 'ask':
        return this.requireEngine().ask(parsed.data as never, { signal, emit });
      case 'features':
        return this.requireEngine().features(parsed.data as never, { signal, emit });
      case 'status':
        return this.status();
      case 'visualize':
        return visualize(this.requireEngine(), parsed.data as never, { signal, emit });
      case 'evaluate':
        return evaluate(this.requireEngine(), parsed.data as never, { signal, emit, yieldToInteractive: yieldNow });
      case 'leakage':
        return leakage(this.requireEngine(), parsed.data as never, { signal, emit, yieldToInteractive: yieldNow });
      case 'listSuites':
        return listSuites(this.requireEngine().packInfo());
      case 'estimate': {
        const p = parsed.data as { dir?: string; tap?: string; maxLength?: number };
        const dir = p.dir ?? this.requireEngine().packInfo().dir;
        const estimate: ContractResults['estimate'] = await estimatePack(dir, { tap: p.tap, maxLength: p.maxLength });
        return estimate;
      }
      case 'listCatalog':
        return listCatalog();
      case 'downloadModel':
        return downloadModel((parsed.data as ContractParams['downloadModel']).id, { signal, emit });
      case 'checkPacks':
        return checkPacks((parsed.data as ContractParams['checkPacks']).dirs);
      case 'composePack':
        return composePackMethod(parsed.data as ContractParams['composePack'], { provider: this.opts.provider });
    }
  }

  status(): EngineStatus {
    this.sampleMemory();
    const mem = process.memoryUsage();
    return {
      pack: this.engine?.packInfo(),
      rssBytes: mem.rss,
      heapUsedBytes: mem.heapUsed,
      peakRssBytes: this.peakRss,
      providers: this.engine?.providers() ?? {},
      pid: process.pid,
      restarts: 0,
    };
  }

  async dispose(): Promise<void> {
    clearInterval(this.memTimer);
    for (const c of this.controllers.values()) c.abort();
    await this.lanes.idle();
    this.engine?.dispose();
    this.engine = undefined;
  }
}
