/**
 * The API the preload exposes to the renderer as `window.twinlens`, built
 * from an ipcRenderer-like object so it can be tested without Electron.
 *
 * Exactly one function per contract method (src/shared/contract.ts), plus
 * `cancel` (the contract's CancelParams: an AbortSignal cannot cross the
 * context bridge, so a call is cancelled by its request id) and `subscribe`
 * for host events. Nothing else: no ipcRenderer, no Node, no generic send.
 *
 * Each method resolves to an envelope `{ok: true, result}` or
 * `{ok: false, error: {code, message, hint}}`, because an Error thrown across
 * ipcRenderer.invoke and the context bridge loses its code and hint.
 */
import type { ContractMethod, ContractParams, ContractResults, EngineEvent } from '../shared/contract.js';
import type { SerializedError } from '../shared/errors.js';

import { IPC } from '../shared/ipc.js';

export { IPC };

/** One entry per contract method; `satisfies` makes adding a method to CONTRACT a type error here until it is exposed. */
export const PRELOAD_METHODS = {
  packInfo: true,
  openPack: true,
  ask: true,
  features: true,
  status: true,
  visualize: true,
  evaluate: true,
  listSuites: true,
  estimate: true,
  composePack: true,
  leakage: true,
  checkPacks: true,
  listCatalog: true,
  downloadModel: true,
} as const satisfies Record<ContractMethod, true>;

export const PRELOAD_EXTRA_KEYS = ['cancel', 'subscribe', 'pickPath', 'restartEngine'] as const;

/**
 * A file or folder chosen in the system dialog. The desktop app accepts only paths the user
 * picked (here, in File ▸ Open…) or dropped on the window: a picked path is granted to the
 * engine calls that follow; a typed one is refused with PATH_NOT_ALLOWED.
 */
export interface PickPathRequest {
  kind: 'file' | 'directory' | 'save';
  title?: string;
  /** File-type filters for kind 'file' (extensions without the dot). */
  filters?: { name: string; extensions: string[] }[];
}

export type Envelope<T> = { ok: true; result: T } | { ok: false; error: SerializedError };

export interface PreloadCallOptions {
  /** Chosen by the caller so it can cancel(); generated when absent. */
  requestId?: string;
  onEvent?: (e: EngineEvent) => void;
}

export type PreloadMethod<M extends ContractMethod> = (params: ContractParams[M], opts?: PreloadCallOptions) => Promise<Envelope<ContractResults[M]>>;

export type PreloadApi = { [M in ContractMethod]: PreloadMethod<M> } & {
  cancel(requestId: string): void;
  /** Host events (engine state, menu commands, opened images); returns the unsubscribe function. */
  subscribe(cb: (event: unknown) => void): () => void;
  /** Shows the system dialog; resolves to the chosen path (now granted), or undefined when cancelled. */
  pickPath(req: PickPathRequest): Promise<string | undefined>;
  /** Kill and restart the engine process, optionally on another execution provider. */
  restartEngine(provider?: string): void;
};

/** What createPreloadApi needs from Electron's ipcRenderer. */
export interface IpcRendererLike {
  invoke(channel: string, ...args: unknown[]): Promise<unknown>;
  send(channel: string, ...args: unknown[]): void;
  on(channel: string, listener: (event: unknown, ...args: unknown[]) => void): unknown;
  removeListener(channel: string, listener: (event: unknown, ...args: unknown[]) => void): unknown;
}

let counter = 0;
function newRequestId(): string {
  counter += 1;
  return `p${Date.now().toString(36)}-${counter}-${Math.random().toString(36).slice(2, 8)}`;
}

export function createPreloadApi(ipc: IpcRendererLike): PreloadApi {
  const eventHandlers = new Map<string, (e: EngineEvent) => void>();
  // The engine's state can arrive before the page subscribes (main sends it on did-finish-load): keep the latest.
  let lastEngineState: unknown;
  ipc.on(IPC.host, (_event, payload) => {
    if ((payload as { type?: unknown } | undefined)?.type === 'engine') lastEngineState = payload;
  });
  ipc.on(IPC.event, (_event, payload) => {
    const p = payload as { requestId?: unknown; event?: unknown } | undefined;
    if (p && typeof p.requestId === 'string') eventHandlers.get(p.requestId)?.(p.event as EngineEvent);
  });

  const method = <M extends ContractMethod>(name: M): PreloadMethod<M> => {
    return async (params, opts = {}) => {
      const requestId = typeof opts.requestId === 'string' && opts.requestId ? opts.requestId : newRequestId();
      if (typeof opts.onEvent === 'function') eventHandlers.set(requestId, opts.onEvent);
      try {
        return (await ipc.invoke(IPC.call, name, requestId, params)) as Envelope<ContractResults[M]>;
      } finally {
        eventHandlers.delete(requestId);
      }
    };
  };

  const api = {} as Record<string, unknown>;
  for (const name of Object.keys(PRELOAD_METHODS) as ContractMethod[]) api[name] = method(name);
  api.cancel = (requestId: string) => {
    if (typeof requestId === 'string') ipc.send(IPC.cancel, requestId);
  };
  api.restartEngine = (provider?: string) => {
    ipc.send(IPC.restartEngine, typeof provider === 'string' ? provider : undefined);
  };
  api.pickPath = async (req: PickPathRequest) => {
    const r = await ipc.invoke(IPC.pickPath, req);
    return typeof r === 'string' ? r : undefined;
  };
  api.subscribe = (cb: (event: unknown) => void) => {
    if (typeof cb !== 'function') throw new TypeError('subscribe needs a function');
    const listener = (_event: unknown, payload: unknown) => cb(payload);
    ipc.on(IPC.host, listener);
    const replay = lastEngineState;
    if (replay !== undefined) queueMicrotask(() => cb(replay));
    return () => {
      ipc.removeListener(IPC.host, listener);
    };
  };
  return Object.freeze(api) as PreloadApi;
}
