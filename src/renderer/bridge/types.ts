/**
 * The one seam between the React workbench and whoever hosts it. The same app
 * runs inside Electron (window.twinlens, from the preload) and in a browser
 * (a WebSocket to the web-mode server); both implement Bridge, and nothing
 * else in src/renderer knows which one it talks to.
 *
 * Calls are the contract's methods (src/shared/contract.ts) with an
 * AbortSignal and a per-call event callback; host events are what the host
 * pushes on its own: engine state, images opened from the menu, commands.
 */
import type { ContractMethod, ContractParams, ContractResults, EngineEvent, PackInfo, ProviderChoiceName } from '../../shared/contract.js';
import type { SerializedError } from '../../shared/errors.js';

export interface EngineStateView {
  state: 'starting' | 'ready' | 'crashed' | 'stopped';
  message?: string;
  restarts: number;
  pid?: number;
}

/** Menu and keyboard commands the host forwards to the page. */
export type HostCommand = 'open-image' | 'export' | 'stop' | 'focus-question' | 'toggle-theme' | 'ask';

export type HostEvent =
  | { type: 'engine'; engine: EngineStateView }
  /** Web mode: the socket to the server dropped (the server may have stopped) or came back. */
  | { type: 'connection'; connected: boolean; message?: string }
  /** An image opened by the host (menu dialog, dropped file resolved by the host). */
  | { type: 'image'; image: { bytes: Uint8Array<ArrayBuffer>; name: string } }
  /** The host opened another pack (menu, dropped folder). */
  | { type: 'pack'; pack: PackInfo }
  | { type: 'command'; command: HostCommand }
  /** A host-side failure to show (dialog read error, pack open error). */
  | { type: 'notice'; level: 'info' | 'error'; message: string };

export interface BridgeCallOptions {
  signal?: AbortSignal;
  onEvent?: (e: EngineEvent) => void;
}

export interface Bridge {
  readonly kind: 'electron' | 'web';
  call<M extends ContractMethod>(method: M, params: ContractParams[M], opts?: BridgeCallOptions): Promise<ContractResults[M]>;
  /** Host events; returns the unsubscribe function. */
  subscribe(cb: (e: HostEvent) => void): () => void;
  /** Kill and restart the engine (with `provider`: on that execution provider). */
  restartEngine?(provider?: ProviderChoiceName): void;
  /** Whether the user can type a pack folder path (the server's file system in web mode). */
  readonly canOpenPackByPath: boolean;
  /**
   * The system file dialog (desktop only). The desktop app accepts only paths picked here, in
   * its menus, or dropped on the window; resolves to the path, or undefined when cancelled.
   */
  pickPath?(req: PickPathRequest): Promise<string | undefined>;
}

/** Mirrors PickPathRequest of src/preload/api.ts (the renderer may not import it). */
export interface PickPathRequest {
  kind: 'file' | 'directory' | 'save';
  title?: string;
  filters?: { name: string; extensions: string[] }[];
}

/**
 * What the renderer expects of `window.twinlens` (built in src/preload/api.ts,
 * which the renderer may not import): one function per contract method
 * resolving to an {ok, result | error} envelope, cancel by request id, and
 * host-event subscription. test/e2e/security.spec.ts checks the two agree.
 */
export type PreloadEnvelope<T> = { ok: true; result: T } | { ok: false; error: SerializedError };

export type TwinLensWindowApi = {
  [M in ContractMethod]: (
    params: ContractParams[M],
    opts?: { requestId?: string; onEvent?: (e: EngineEvent) => void },
  ) => Promise<PreloadEnvelope<ContractResults[M]>>;
} & {
  cancel(requestId: string): void;
  subscribe(cb: (event: unknown) => void): () => void;
  pickPath(req: PickPathRequest): Promise<string | undefined>;
  restartEngine(provider?: string): void;
};
