/**
 * Bridge for the desktop app: `window.twinlens`, exposed by the sandboxed
 * preload (src/preload/api.ts; its shape is TwinLensWindowApi in types.ts). An AbortSignal cannot cross the context
 * bridge, so each call gets a request id and aborting sends cancel(id);
 * results arrive as {ok, result | error} envelopes and errors are rebuilt
 * here with their code and hint.
 */
import type { ContractMethod, ContractParams, ContractResults, ProviderChoiceName } from '../../shared/contract.js';
import { TwinLensError, toTwinLensError } from '../../shared/errors.js';
import type { Bridge, BridgeCallOptions, HostEvent, PickPathRequest, TwinLensWindowApi } from './types.js';

let counter = 0;

export class ElectronBridge implements Bridge {
  readonly kind = 'electron' as const;
  readonly canOpenPackByPath = true;

  constructor(private readonly api: TwinLensWindowApi) {}

  async call<M extends ContractMethod>(method: M, params: ContractParams[M], opts: BridgeCallOptions = {}): Promise<ContractResults[M]> {
    if (opts.signal?.aborted) throw new TwinLensError('CANCELLED', `${method} was cancelled`);
    counter += 1;
    const requestId = `r${Date.now().toString(36)}-${counter}`;
    const onAbort = () => this.api.cancel(requestId);
    opts.signal?.addEventListener('abort', onAbort, { once: true });
    try {
      const fn = this.api[method] as unknown as (p: unknown, o: unknown) => Promise<{ ok: boolean; result?: unknown; error?: unknown }>;
      const envelope = await fn(params, { requestId, onEvent: opts.onEvent });
      if (!envelope.ok) throw toTwinLensError(envelope.error);
      return envelope.result as ContractResults[M];
    } finally {
      opts.signal?.removeEventListener('abort', onAbort);
    }
  }

  subscribe(cb: (e: HostEvent) => void): () => void {
    return this.api.subscribe((e) => cb(e as HostEvent));
  }

  restartEngine(provider?: ProviderChoiceName): void {
    this.api.restartEngine(provider);
  }

  pickPath(req: PickPathRequest): Promise<string | undefined> {
    return this.api.pickPath(req);
  }
}
