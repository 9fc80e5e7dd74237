/**
 * The contract over Electron IPC: the desktop twin of the WebSocket broker
 * (src/server/ws-broker.ts). Every message is checked twice before it can
 * reach the engine:
 *
 * 1. the sender must be our window's main frame, loaded from app://twinlens
 *    (not an iframe, not a page that navigated elsewhere);
 * 2. the method must be a contract method and its params must parse with the
 *    contract's zod schema (src/host/parse-call.ts);
 * 3. every path the call names must be one the user granted: the built-in and
 *    user pack folders, or a file or folder picked in a dialog or dropped on
 *    the window (PathPolicy). A compromised page could otherwise make the
 *    engine read or write any file the app can.
 *
 * Results go back as {ok, result | error} envelopes (an Error thrown through
 * ipcRenderer.invoke loses its code and hint); events go to the sending
 * window tagged with the caller's request id; cancel aborts that request.
 */
import { type IpcMainEvent, type IpcMainInvokeEvent, type WebContents, ipcMain } from 'electron';
import { z } from 'zod';
import { type ContractParams, PROVIDER_CHOICES, type ProviderChoiceName } from '../shared/contract.js';
import { TwinLensError, toTwinLensError } from '../shared/errors.js';
import { IPC } from '../shared/ipc.js';
import type { EngineHost } from '../host/engine-host.js';
import { parseParams } from '../host/parse-call.js';
import type { PathPolicy } from '../host/path-policy.js';
import { isAppUrl } from './protocol.js';

const RequestId = z.string().min(1).max(128);
const DroppedPaths = z.array(z.string().min(1).max(4096)).max(64);
const PickPath = z.object({
  kind: z.enum(['file', 'directory', 'save']),
  title: z.string().max(200).optional(),
  filters: z
    .array(z.object({ name: z.string().max(100), extensions: z.array(z.string().regex(/^[\w*]{1,16}$/)).max(32) }))
    .max(16)
    .optional(),
});
export type PickPathOptions = z.infer<typeof PickPath>;

export interface BrokerOptions {
  host: EngineHost;
  /** The web contents allowed to call (our one window). */
  trusted: () => WebContents | undefined;
  /** Paths dropped on the window (already validated as strings, and granted). */
  onDropped: (paths: string[]) => void;
  /** Where calls may read and write; absent: anywhere (tests of the broker alone). */
  paths?: PathPolicy;
  /** Shows the system dialog for a pickPath request; resolves to the path or undefined. */
  pick?: (req: PickPathOptions) => Promise<string | undefined>;
  /** Restarts the engine, optionally on another execution provider (the status bar's picker). */
  restart?: (provider?: ProviderChoiceName) => void;
  /** A pack the page opened (openPack succeeded): main remembers it for the recent-packs list. */
  onOpenedPack?: (dir: string) => void;
}

export class IpcBroker {
  private controllers = new Map<string, AbortController>();

  constructor(private readonly opts: BrokerOptions) {
    ipcMain.handle(IPC.call, (event, method: unknown, requestId: unknown, params: unknown) => this.onCall(event, method, requestId, params));
    ipcMain.on(IPC.cancel, (event, requestId: unknown) => this.onCancel(event, requestId));
    ipcMain.on(IPC.dropped, (event, paths: unknown) => this.onDroppedPaths(event, paths));
    ipcMain.handle(IPC.pickPath, (event, req: unknown) => this.onPickPath(event, req));
    ipcMain.on(IPC.restartEngine, (event, provider: unknown) => {
      if (!this.isTrustedSender(event)) return;
      const p = z
        .enum(PROVIDER_CHOICES)
        .optional()
        .safeParse(provider ?? undefined);
      if (p.success) this.opts.restart?.(p.data);
    });
  }

  /** Our window, its top frame, on our origin: anything else is refused. */
  isTrustedSender(event: IpcMainEvent | IpcMainInvokeEvent): boolean {
    const wc = this.opts.trusted();
    const frame = event.senderFrame;
    if (!wc || event.sender !== wc || !frame || frame.parent !== null) return false;
    return isAppUrl(frame.url);
  }

  private async onCall(event: IpcMainInvokeEvent, method: unknown, requestId: unknown, params: unknown) {
    if (!this.isTrustedSender(event)) {
      return { ok: false, error: new TwinLensError('INVALID_ARGUMENT', 'IPC call from an untrusted sender refused').toJSON() };
    }
    const id = RequestId.safeParse(requestId);
    if (!id.success || typeof method !== 'string') {
      return { ok: false, error: new TwinLensError('INVALID_ARGUMENT', 'Malformed IPC call').toJSON() };
    }
    const key = `${event.sender.id}:${id.data}`;
    if (this.controllers.has(key)) return { ok: false, error: new TwinLensError('INVALID_ARGUMENT', `Request id ${id.data} is already in flight`).toJSON() };
    const controller = new AbortController();
    this.controllers.set(key, controller);
    const sender = event.sender;
    try {
      const call = parseParams(method, params);
      this.opts.paths?.check(call.method, call.params);
      const result = await this.opts.host.call(call.method, call.params as ContractParams[typeof call.method], {
        signal: controller.signal,
        onEvent: (e) => {
          if (!sender.isDestroyed()) sender.send(IPC.event, { requestId: id.data, event: e });
        },
      });
      if (call.method === 'openPack') this.opts.onOpenedPack?.((call.params as ContractParams['openPack']).dir);
      return { ok: true, result };
    } catch (e) {
      return { ok: false, error: toTwinLensError(e, controller.signal.aborted ? 'CANCELLED' : 'INTERNAL').toJSON() };
    } finally {
      this.controllers.delete(key);
    }
  }

  private onCancel(event: IpcMainEvent, requestId: unknown): void {
    if (!this.isTrustedSender(event)) return;
    const id = RequestId.safeParse(requestId);
    if (id.success) this.controllers.get(`${event.sender.id}:${id.data}`)?.abort();
  }

  private onDroppedPaths(event: IpcMainEvent, paths: unknown): void {
    if (!this.isTrustedSender(event)) return;
    const parsed = DroppedPaths.safeParse(paths);
    if (!parsed.success) return;
    for (const p of parsed.data) this.opts.paths?.grant(p);
    this.opts.onDropped(parsed.data);
  }

  private async onPickPath(event: IpcMainInvokeEvent, req: unknown): Promise<string | undefined> {
    if (!this.isTrustedSender(event) || !this.opts.pick) return undefined;
    const parsed = PickPath.safeParse(req);
    if (!parsed.success) return undefined;
    const chosen = await this.opts.pick(parsed.data);
    if (chosen) this.opts.paths?.grant(chosen);
    return chosen;
  }

  /** Cancel everything a window started (it reloaded or closed). */
  cancelAll(): void {
    for (const c of this.controllers.values()) c.abort();
    this.controllers.clear();
  }

  dispose(): void {
    this.cancelAll();
    ipcMain.removeHandler(IPC.call);
    ipcMain.removeAllListeners(IPC.cancel);
    ipcMain.removeAllListeners(IPC.dropped);
    ipcMain.removeHandler(IPC.pickPath);
    ipcMain.removeAllListeners(IPC.restartEngine);
  }
}
