/**
 * The contract over one WebSocket connection: the web-mode twin of the
 * Electron IPC broker (src/main/ipc-broker.ts). Every incoming message is
 * decoded, checked against a message schema, and a call's params are parsed
 * with the contract's zod schema before anything reaches the engine; bad
 * input gets an INVALID_ARGUMENT error, never a crash. Events stream back as
 * they happen, `cancel` aborts the call's AbortSignal, and closing the socket
 * cancels everything it started.
 */
import type { WebSocket } from 'ws';
import { z } from 'zod';
import { type ContractMethod, type ContractParams, type ContractResults, PROVIDER_CHOICES, type ProviderChoiceName } from '../shared/contract.js';
import type { HostCallOptions } from '../host/engine-host.js';
import { toTwinLensError } from '../shared/errors.js';
import { parseParams } from '../host/parse-call.js';
import type { PathPolicy } from '../host/path-policy.js';
import type { EngineState } from '../host/engine-client.js';
import { type ServerMessage, decodeMessage, encodeMessage } from '../shared/wire.js';

/** What the broker needs from the engine host (EngineHost, or a fake in tests). */
export interface BrokerHost {
  readonly state: EngineState;
  readonly packDir?: string;
  onState(cb: (s: EngineState) => void): () => void;
  call<M extends ContractMethod>(method: M, params: ContractParams[M], opts: HostCallOptions): Promise<ContractResults[M]>;
  restart(opts?: { provider?: ProviderChoiceName }): Promise<void>;
}

const RequestId = z.string().min(1).max(128);

const ClientMessageSchema = z.discriminatedUnion('type', [
  z.object({ type: z.literal('call'), id: RequestId, method: z.string().min(1).max(64), params: z.unknown() }),
  z.object({ type: z.literal('cancel'), id: RequestId }),
  z.object({ type: z.literal('restart-engine'), provider: z.enum(PROVIDER_CHOICES).optional() }),
]);

/** More than this many calls in flight on one socket is a runaway client. */
const MAX_IN_FLIGHT = 64;

export class WsBroker {
  private controllers = new Map<string, AbortController>();
  private unsubscribe: () => void;
  private closed = false;

  constructor(
    private readonly ws: WebSocket,
    private readonly host: BrokerHost,
    private readonly info: { provider?: string; onPackOpened?: (pack: unknown, from: WsBroker) => void; paths?: PathPolicy } = {},
  ) {
    this.unsubscribe = host.onState((engine) => this.send({ type: 'engine', engine }));
    ws.on('message', (data, isBinary) => this.onMessage(data as Buffer | ArrayBuffer | Buffer[], isBinary));
    ws.on('close', () => this.close());
    ws.on('error', () => this.close());
    this.send({ type: 'hello', engine: host.state, packDir: host.packDir, provider: info.provider });
  }

  /** Tell this client that another one switched the engine's pack. */
  packChanged(pack: unknown): void {
    this.send({ type: 'pack', pack });
  }

  private send(msg: ServerMessage): void {
    if (this.closed || this.ws.readyState !== this.ws.OPEN) return;
    const frame = encodeMessage(msg);
    this.ws.send(frame, { binary: typeof frame !== 'string' });
  }

  private onMessage(data: Buffer | ArrayBuffer | Buffer[], isBinary: boolean): void {
    let raw: unknown;
    try {
      const buf = Array.isArray(data) ? Buffer.concat(data) : Buffer.isBuffer(data) ? data : Buffer.from(data);
      raw = decodeMessage(isBinary ? new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength) : buf.toString('utf8'));
    } catch (e) {
      this.protocolError(undefined, `Malformed message: ${(e as Error).message}`);
      return;
    }
    const msg = ClientMessageSchema.safeParse(raw);
    if (!msg.success) {
      const id = raw && typeof raw === 'object' && typeof (raw as { id?: unknown }).id === 'string' ? (raw as { id: string }).id : undefined;
      this.protocolError(id, `Malformed message: ${msg.error.issues[0]?.message ?? 'invalid'}`);
      return;
    }
    const m = msg.data;
    if (m.type === 'cancel') this.controllers.get(m.id)?.abort();
    else if (m.type === 'restart-engine') void this.host.restart(m.provider ? { provider: m.provider } : {}).catch(() => undefined);
    else void this.handleCall(m.id, m.method, m.params);
  }

  private protocolError(id: string | undefined, message: string): void {
    this.send({ type: 'error', id: id ?? '', error: { code: 'INVALID_ARGUMENT', message } });
  }

  private async handleCall(id: string, methodName: string, rawParams: unknown): Promise<void> {
    if (this.controllers.has(id)) {
      this.protocolError(id, `Request id "${id}" is already in flight`);
      return;
    }
    if (this.controllers.size >= MAX_IN_FLIGHT) {
      this.protocolError(id, `Too many requests in flight (${MAX_IN_FLIGHT})`);
      return;
    }
    const controller = new AbortController();
    this.controllers.set(id, controller);
    try {
      const { method, params } = parseParams(methodName, rawParams);
      this.info.paths?.check(method, params);
      const result = await this.host.call(method, params as ContractParams[typeof method], {
        signal: controller.signal,
        onEvent: (event) => this.send({ type: 'event', id, event }),
      });
      this.send({ type: 'result', id, result });
      if (method === 'openPack') this.info.onPackOpened?.(result, this);
    } catch (e) {
      const err = controller.signal.aborted ? toTwinLensError(e, 'CANCELLED') : toTwinLensError(e);
      this.send({ type: 'error', id, error: err.toJSON() });
    } finally {
      this.controllers.delete(id);
    }
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.unsubscribe();
    for (const c of this.controllers.values()) c.abort();
    this.controllers.clear();
  }
}
