/**
 * EngineClient: the host side of the engine process. It starts the process,
 * sends requests, routes progress/token events to the caller, turns an
 * AbortSignal into a cancel message, and watches the process: if it dies,
 * every pending call fails with ENGINE_CRASHED and a fresh process is started
 * on the same pack, so the caller's state (the UI's, the CLI's) survives.
 *
 * Three guarantees the host relies on (each has a test on the real process):
 * - after too many crashes in a minute it stops restarting, and every call
 *   then fails at once with ENGINE_CRASHED (never waits on a dead process)
 *   until restart() ("Reload Engine") is used;
 * - a cancel that arrives while the engine is (re)starting cancels the call
 *   before it is sent;
 * - a call that hears nothing (no result, no progress event) for
 *   `stallTimeoutMs` is a stuck engine: the process is killed and restarted
 *   and the call fails with ENGINE_CRASHED, so one hung run cannot block the
 *   engine's queue forever.
 */
import { randomUUID } from 'node:crypto';
import type { ContractMethod, ContractParams, ContractResults, EngineEvent } from '../shared/contract.js';
import { TwinLensError } from '../shared/errors.js';
import { PendingCalls } from '../shared/pending-calls.js';
import type { FromEngine } from '../shared/protocol.js';
import { type EngineLaunch, type EngineTransport, forkNodeEngine } from './engine-transport.js';

export type EngineStateName = 'starting' | 'ready' | 'crashed' | 'stopped';

export interface EngineState {
  state: EngineStateName;
  message?: string;
  restarts: number;
  pid?: number;
}

export interface CallOptions {
  signal?: AbortSignal;
  onEvent?: (e: EngineEvent) => void;
}

export interface EngineClientOptions extends EngineLaunch {
  /** Defaults to a Node child process; Electron passes a utilityProcess factory. */
  transportFactory?: (launch: EngineLaunch) => EngineTransport;
  autoRestart?: boolean;
  /** Give up restarting after this many crashes within a minute. */
  maxRestartsPerMinute?: number;
  /**
   * A call with no result and no event for this long is stuck: the engine is killed and restarted.
   * Default 15 minutes: longer than any model load or UNet pass seen on a CPU, and long runs
   * (evaluations, generations) stream events far more often.
   */
  stallTimeoutMs?: number;
}

const DEFAULT_STALL_MS = 15 * 60_000;

export class EngineClient {
  private transport!: EngineTransport;
  private pending = new PendingCalls<EngineEvent>();
  private listeners = new Set<(s: EngineState) => void>();
  private current: EngineState = { state: 'starting', restarts: 0 };
  private ready!: Promise<void>;
  private disposed = false;
  private crashTimes: number[] = [];
  private launch: EngineLaunch;

  private constructor(private opts: EngineClientOptions) {
    this.launch = { packDir: opts.packDir, provider: opts.provider, cacheDir: opts.cacheDir };
  }

  static async start(opts: EngineClientOptions = {}): Promise<EngineClient> {
    const c = new EngineClient(opts);
    c.spawn();
    try {
      await c.ready;
    } catch (e) {
      // A failed first start must not leave a restarted process behind with no owner.
      c.disposed = true;
      c.transport.kill('SIGKILL');
      throw e;
    }
    return c;
  }

  get state(): EngineState {
    return this.current;
  }

  get pid(): number | undefined {
    return this.transport?.pid;
  }

  onState(cb: (s: EngineState) => void): () => void {
    this.listeners.add(cb);
    return () => this.listeners.delete(cb);
  }

  private setState(s: Partial<EngineState> & { state: EngineStateName }): void {
    this.current = { ...this.current, message: undefined, ...s };
    for (const l of this.listeners) l(this.current);
  }

  private spawn(): void {
    this.setState({ state: 'starting', pid: undefined });
    const factory = this.opts.transportFactory ?? forkNodeEngine;
    const t = factory(this.launch);
    this.transport = t;
    let resolveReady!: () => void;
    let rejectReady!: (e: unknown) => void;
    this.ready = new Promise<void>((res, rej) => {
      resolveReady = res;
      rejectReady = rej;
    });
    this.ready.catch(() => undefined);
    t.onMessage((msg) => {
      if (this.transport !== t) return;
      if (msg.type === 'ready') {
        this.setState({ state: 'ready', pid: msg.pid });
        resolveReady();
      } else this.route(msg);
    });
    t.onExit((code, signal) => {
      if (this.transport !== t) return;
      const why = signal ? `signal ${signal}` : `exit code ${code}`;
      rejectReady(
        new TwinLensError('ENGINE_CRASHED', `The engine process could not start (${why})`, 'Run with --provider cpu, or check the terminal for the engine log'),
      );
      this.failAll(new TwinLensError('ENGINE_CRASHED', `The engine process exited unexpectedly (${why})`, 'It is being restarted; run the request again'));
      if (this.disposed) return this.setState({ state: 'stopped' });
      this.setState({ state: 'crashed', message: `engine exited (${why})` });
      const now = Date.now();
      this.crashTimes = this.crashTimes.filter((x) => now - x < 60_000).concat(now);
      const limit = this.opts.maxRestartsPerMinute ?? 5;
      if ((this.opts.autoRestart ?? true) && this.crashTimes.length <= limit) {
        this.current.restarts += 1;
        this.spawn();
      } else {
        // Gave up: later calls must fail at once, not wait on a process that will never answer.
        const why2 =
          (this.opts.autoRestart ?? true) ? `it crashed ${this.crashTimes.length} times within a minute and was not restarted` : 'automatic restart is off';
        this.ready = Promise.reject(
          new TwinLensError('ENGINE_CRASHED', `The engine is down: ${why2}`, 'Reload the engine (restart) once the cause is fixed; check the engine log'),
        );
        this.ready.catch(() => undefined);
        this.setState({ state: 'crashed', message: `engine down: ${why2}` });
      }
    });
  }

  private route(msg: FromEngine): void {
    if (msg.type === 'ready') return;
    if (msg.type === 'event') this.pending.event(msg.id, msg.event);
    else if (msg.type === 'result') this.pending.result(msg.id, msg.result);
    else this.pending.error(msg.id, msg.error);
  }

  private failAll(err: TwinLensError): void {
    this.pending.failAll(err);
  }

  /** Wait for a restarted engine to be ready (after a crash or restart()). */
  async whenReady(): Promise<void> {
    await this.ready;
  }

  /** Waits for the engine, but gives up as soon as the call is cancelled (a cancel during a restart). */
  private async readyOrAborted(method: string, signal?: AbortSignal): Promise<void> {
    if (!signal) return this.ready;
    let onAbort!: () => void;
    const aborted = new Promise<never>((_, reject) => {
      onAbort = () => reject(new TwinLensError('CANCELLED', `${method} was cancelled`));
      signal.addEventListener('abort', onAbort, { once: true });
    });
    try {
      await Promise.race([this.ready, aborted]);
    } finally {
      signal.removeEventListener('abort', onAbort);
    }
  }

  async call<M extends ContractMethod>(method: M, params: ContractParams[M], opts: CallOptions = {}): Promise<ContractResults[M]> {
    if (this.disposed) throw new TwinLensError('ENGINE_DISPOSED', 'The engine has been shut down');
    if (opts.signal?.aborted) throw new TwinLensError('CANCELLED', `${method} was cancelled`);
    await this.readyOrAborted(method, opts.signal);
    if (this.disposed) throw new TwinLensError('ENGINE_DISPOSED', 'The engine has been shut down');
    const id = randomUUID();
    const transport = this.transport;
    const stallMs = this.opts.stallTimeoutMs ?? DEFAULT_STALL_MS;
    const onAbort = () => transport.send({ type: 'cancel', id });
    let timer: NodeJS.Timeout | undefined;
    // The stall watchdog, reset by every message of this call.
    const touch = () => {
      clearTimeout(timer);
      timer = setTimeout(() => {
        if (this.transport !== transport || !this.pending.has(id)) return;
        // Fail this call first with its own reason; the kill then fails the others and restarts.
        this.pending.fail(
          id,
          new TwinLensError(
            'ENGINE_CRASHED',
            `${method} got no answer and no progress for ${Math.round(stallMs / 1000)} s: the engine was stuck and has been restarted`,
            'Run it again; if it hangs again, check the engine log',
          ),
        );
        transport.kill('SIGKILL');
      }, stallMs);
      timer.unref?.();
    };
    opts.signal?.addEventListener('abort', onAbort, { once: true });
    const result = this.pending.add(id, {
      onEvent: opts.onEvent,
      onMessage: touch,
      cleanup: () => {
        clearTimeout(timer);
        opts.signal?.removeEventListener('abort', onAbort);
      },
    });
    touch();
    transport.send({ type: 'request', id, method, params });
    const value = (await result) as ContractResults[M];
    if (method === 'openPack') this.launch.packDir = (params as ContractParams['openPack']).dir;
    return value;
  }

  /** Kill and start a fresh engine on the same pack ("Reload Engine"); also revives an engine that was given up on. */
  /** Kill and restart the engine process; with `provider`, the new process uses that execution provider. */
  async restart(opts: { provider?: EngineLaunch['provider'] } = {}): Promise<void> {
    if (opts.provider) this.launch = { ...this.launch, provider: opts.provider };
    this.crashTimes = [];
    const old = this.transport;
    this.transport = undefined as unknown as EngineTransport;
    this.failAll(new TwinLensError('CANCELLED', 'The engine was restarted'));
    old.kill('SIGKILL');
    this.current.restarts += 1;
    this.spawn();
    await this.ready;
  }

  /** Simulate a crash (tests, "kill engine" in diagnostics). */
  killProcess(signal: NodeJS.Signals = 'SIGKILL'): void {
    this.transport.kill(signal);
  }

  async dispose(): Promise<void> {
    if (this.disposed) return;
    this.disposed = true;
    this.failAll(new TwinLensError('ENGINE_DISPOSED', 'The engine was shut down'));
    const t = this.transport;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        t.kill('SIGKILL');
        resolve();
      }, 3000);
      t.onExit(() => {
        clearTimeout(timer);
        resolve();
      });
      t.send({ type: 'shutdown' });
    });
    this.setState({ state: 'stopped' });
  }
}
