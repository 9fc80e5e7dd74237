/**
 * The one gate every call from outside passes before it reaches the engine,
 * used by both brokers (the WebSocket broker here and the Electron IPC broker
 * in src/main): the method must be a contract method (own key, so
 * `__proto__` and friends are not), and its params must parse with that
 * method's zod schema. What the engine receives is the parsed value, with
 * defaults applied and unknown keys stripped.
 */
import { CONTRACT, type ContractMethod } from '../shared/contract.js';
import { TwinLensError } from '../shared/errors.js';

export function isContractMethod(m: string): m is ContractMethod {
  return Object.prototype.hasOwnProperty.call(CONTRACT, m);
}

/** Parse a call's params with the contract; throws INVALID_ARGUMENT naming the first bad field. */
export function parseParams(method: string, params: unknown): { method: ContractMethod; params: unknown } {
  if (!isContractMethod(method)) throw new TwinLensError('INVALID_ARGUMENT', `Unknown method "${method}"`);
  const parsed = CONTRACT[method].safeParse(params ?? {});
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new TwinLensError('INVALID_ARGUMENT', `${method}: ${issue?.path.join('.') || 'params'}: ${issue?.message ?? 'invalid'}`);
  }
  return { method, params: parsed.data };
}
