/**
 * EngineHost: what a host (the web server, and the Electron main process,
 * which imports this file too) needs on top of EngineClient.
 *
 * - Serve requests before the engine is up: calls wait for the first start
 *   instead of failing, and the host can listen/show its window at once.
 * - One engine state stream (starting → ready → crashed → ready …) that the
 *   UI shows, including a first start that failed outright.
 * - `status` results carry the host's restart count (the engine process
 *   cannot know how many times it was replaced).
 *
 * Node only, no Electron: the transport factory decides how the engine
 * process is started (child process here, utilityProcess in src/main).
 */
import type { ContractMethod, ContractParams, ContractResults, EngineEvent, EngineStatus } from '../shared/contract.js';
import { TwinLensError, toTwinLensError } from '../shared/errors.js';
import { EngineClient, type EngineClientOptions, type EngineState } from './engine-client.js';

export interface HostCallOptions {
  signal?: AbortSignal;
  onEvent?: (e: EngineEvent) => void;
}

export class EngineHost {
  private client: EngineClient | undefined;
  private starting: Promise<EngineClient> | undefined;
  private listeners = new Set<(s: EngineState) => void>();
  private current: EngineState = { state: 'starting', restarts: 0 };
  private failedStarts = 0;
  private disposed = false;
  private unsubscribe: (() => void) | undefined;

  constructor(private readonly opts: EngineClientOptions) {}

  get state(): EngineState {
    return this.current;
  }

  get pid(): number | undefined {
    return this.client?.pid;
  }

  get packDir(): string | undefined {
    return this.opts.packDir;
  }

  onState(cb: (s: EngineState) => void): () => void {
    this.listeners.add(cb);
    return () => this.listeners.delete(cb);
  }

  /** `s` is the client's own state (or a synthetic one before a client exists); failed first starts count as restarts. */
  private emit(s: EngineState): void {
    this.current = { ...s, restarts: s.restarts + this.failedStarts };
    for (const l of this.listeners) l(this.current);
  }

  /** Start the engine process (idempotent); resolves when it is ready. */
  start(): Promise<EngineClient> {
    if (this.client) return Promise.resolve(this.client);
    if (this.starting) return this.starting;
    this.emit({ state: 'starting', restarts: 0 });
    this.starting = EngineClient.start(this.opts).then(
      (client) => {
        this.starting = undefined;
        if (this.disposed) {
          void client.dispose();
          throw new TwinLensError('ENGINE_DISPOSED', 'The engine was shut down');
        }
        this.client = client;
        this.unsubscribe = client.onState((s) => this.emit(s));
        this.emit(client.state);
        return client;
      },
      (e: unknown) => {
        this.starting = undefined;
        this.failedStarts += 1;
        const err = toTwinLensError(e, 'ENGINE_CRASHED');
        this.emit({ state: 'crashed', message: err.oneLine(), restarts: 0 });
        throw err;
      },
    );
    return this.starting;
  }

  async call<M extends ContractMethod>(method: M, params: ContractParams[M], opts: HostCallOptions = {}): Promise<ContractResults[M]> {
    if (this.disposed) throw new TwinLensError('ENGINE_DISPOSED', 'The engine has been shut down');
    const client = this.client ?? (await this.start());
    // After a crash EngineClient restarts by itself; wait for the new process rather than failing at once.
    if (client.state.state !== 'ready') await client.whenReady();
    const result = await client.call(method, params, opts);
    if (method === 'openPack') this.opts.packDir = (params as ContractParams['openPack']).dir;
    if (method === 'status') {
      const s = result as EngineStatus;
      return { ...s, restarts: this.current.restarts } as ContractResults[M];
    }
    return result;
  }

  /** "Reload Engine": kill the process and start a fresh one on the same pack (with `provider`: on that provider). */
  async restart(opts: { provider?: EngineClientOptions['provider'] } = {}): Promise<void> {
    if (this.disposed) return;
    if (opts.provider) this.opts.provider = opts.provider;
    if (!this.client) {
      await this.start();
      return;
    }
    await this.client.restart(opts);
  }

  /** Kill the engine process as if it crashed (diagnostics and tests); it restarts by itself. */
  killProcess(): void {
    this.client?.killProcess('SIGKILL');
  }

  async dispose(): Promise<void> {
    if (this.disposed) return;
    this.disposed = true;
    this.unsubscribe?.();
    const c = this.client ?? (await this.starting?.catch(() => undefined));
    await c?.dispose();
    this.emit({ state: 'stopped', restarts: c?.state.restarts ?? 0 });
    this.listeners.clear();
  }
}
