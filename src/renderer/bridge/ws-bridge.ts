/**
 * Bridge for web mode: the contract over a WebSocket to src/server. The page
 * was loaded from the server, whose cookie (set from the URL's token) also
 * authenticates the socket, so nothing secret lives in this script.
 *
 * The socket reconnects with backoff when it drops; calls in flight when it
 * drops fail (the server cancels them on its side), host events report the
 * connection state so the status bar can say so.
 */
import type { ContractMethod, ContractParams, ContractResults, EngineEvent, PackInfo, ProviderChoiceName } from '../../shared/contract.js';
import { TwinLensError } from '../../shared/errors.js';
import { PendingCalls } from '../../shared/pending-calls.js';
import { type ClientMessage, type ServerMessage, decodeMessage, encodeMessage } from '../../shared/wire.js';
import type { Bridge, BridgeCallOptions, HostEvent } from './types.js';

let counter = 0;
/** crypto.randomUUID needs a secure context; a remote http:// URL is not one. */
function newId(): string {
  counter += 1;
  return `${Date.now().toString(36)}-${counter}-${Math.random().toString(36).slice(2, 8)}`;
}

export class WsBridge implements Bridge {
  readonly kind = 'web' as const;
  readonly canOpenPackByPath = true;
  private ws: WebSocket | undefined;
  private open: Promise<WebSocket> | undefined;
  private pending = new PendingCalls<EngineEvent>();
  private listeners = new Set<(e: HostEvent) => void>();
  private retryMs = 250;
  private everConnected = false;
  /** Replayed to late subscribers: the hello can arrive before React subscribes. */
  private lastEngine: HostEvent | undefined;

  constructor(private readonly url = defaultUrl()) {
    void this.connect().catch(() => undefined);
  }

  private emit(e: HostEvent): void {
    for (const l of this.listeners) l(e);
  }

  private connect(): Promise<WebSocket> {
    if (this.open) return this.open;
    this.open = new Promise<WebSocket>((resolve, reject) => {
      const ws = new WebSocket(this.url);
      ws.binaryType = 'arraybuffer';
      let opened = false;
      ws.onopen = () => {
        opened = true;
        this.ws = ws;
        this.retryMs = 250;
        if (this.everConnected) this.emit({ type: 'connection', connected: true });
        this.everConnected = true;
        resolve(ws);
      };
      ws.onmessage = (ev) => this.onMessage(ev.data as string | ArrayBuffer);
      ws.onclose = () => {
        this.ws = undefined;
        this.open = undefined;
        this.failAll(new TwinLensError('ENGINE_CRASHED', 'Lost the connection to the TwinLens server', 'Is `twinlens serve` still running?'));
        this.emit({ type: 'connection', connected: false, message: 'Lost the connection to the server; reconnecting…' });
        if (!opened) reject(new TwinLensError('ENGINE_CRASHED', 'Cannot reach the TwinLens server'));
        setTimeout(() => void this.connect().catch(() => undefined), this.retryMs);
        this.retryMs = Math.min(this.retryMs * 2, 5000);
      };
    });
    this.open.catch(() => undefined);
    return this.open;
  }

  private onMessage(data: string | ArrayBuffer): void {
    let msg: ServerMessage;
    try {
      msg = decodeMessage(data) as ServerMessage;
    } catch {
      return;
    }
    switch (msg.type) {
      case 'hello':
      case 'engine':
        this.lastEngine = { type: 'engine', engine: msg.engine };
        this.emit(this.lastEngine);
        return;
      case 'pack':
        this.emit({ type: 'pack', pack: msg.pack as PackInfo });
        return;
      case 'event':
        this.pending.event(msg.id, msg.event as EngineEvent);
        return;
      case 'result':
        this.pending.result(msg.id, msg.result);
        return;
      case 'error':
        this.pending.error(msg.id, msg.error);
    }
  }

  private failAll(err: TwinLensError): void {
    this.pending.failAll(err);
  }

  private send(msg: ClientMessage): void {
    this.ws?.send(encodeMessage(msg));
  }

  async call<M extends ContractMethod>(method: M, params: ContractParams[M], opts: BridgeCallOptions = {}): Promise<ContractResults[M]> {
    if (opts.signal?.aborted) throw new TwinLensError('CANCELLED', `${method} was cancelled`);
    await this.connect();
    const id = newId();
    const onAbort = () => this.send({ type: 'cancel', id });
    opts.signal?.addEventListener('abort', onAbort, { once: true });
    const result = this.pending.add(id, { onEvent: opts.onEvent, cleanup: () => opts.signal?.removeEventListener('abort', onAbort) });
    this.send({ type: 'call', id, method, params });
    return (await result) as ContractResults[M];
  }

  subscribe(cb: (e: HostEvent) => void): () => void {
    this.listeners.add(cb);
    const replay = this.lastEngine;
    if (replay) queueMicrotask(() => this.listeners.has(cb) && cb(replay));
    return () => this.listeners.delete(cb);
  }

  restartEngine(provider?: ProviderChoiceName): void {
    this.send({ type: 'restart-engine', ...(provider ? { provider } : {}) });
  }
}

function defaultUrl(): string {
  const proto = location.protocol === 'https:' ? 'wss:' : 'ws:';
  return `${proto}//${location.host}/ws`;
}
