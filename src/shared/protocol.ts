/**
 * Messages between a host (Electron main, web server, CLI) and the engine
 * process. Sent with structured clone (Node `serialization: 'advanced'` or
 * Electron's utilityProcess), so typed arrays cross without JSON.
 */
import type { ContractMethod, EngineEvent } from './contract.js';
import type { SerializedError } from './errors.js';

export type ToEngine = { type: 'request'; id: string; method: ContractMethod; params: unknown } | { type: 'cancel'; id: string } | { type: 'shutdown' };

export type FromEngine =
  | { type: 'ready'; pid: number }
  | { type: 'event'; id: string; event: EngineEvent }
  | { type: 'result'; id: string; result: unknown }
  | { type: 'error'; id: string; error: SerializedError };
