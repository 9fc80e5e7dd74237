/**
 * The calls a client has sent and not yet seen settle, by request id: the
 * bookkeeping both ends of the contract share — the host's EngineClient (over
 * the engine process's messages) and the web page's WsBridge (over the
 * WebSocket). Each routes a streamed event to the call's `onEvent`, settles
 * it once on its result or error, runs its cleanup (abort listener, timers)
 * exactly once, and fails every open call at once when the other side goes
 * away (a crashed engine, a dropped socket).
 */
import { type SerializedError, TwinLensError, toTwinLensError } from './errors.js';

export interface PendingCallHooks<E> {
  onEvent?: (e: E) => void;
  /** Called on every message for the call (events and the final one): a stall watchdog's reset. */
  onMessage?: () => void;
  /** Called once when the call settles, however it settles. */
  cleanup?: () => void;
}

interface Entry<E> extends PendingCallHooks<E> {
  resolve: (v: unknown) => void;
  reject: (e: unknown) => void;
}

export class PendingCalls<E> {
  private calls = new Map<string, Entry<E>>();

  /** Registers a call; the promise settles when `result`, `error`, `fail` or `failAll` reaches it. */
  add(id: string, hooks: PendingCallHooks<E> = {}): Promise<unknown> {
    if (this.calls.has(id)) throw new TwinLensError('INTERNAL', `Request id ${id} is already in flight`);
    return new Promise<unknown>((resolve, reject) => this.calls.set(id, { ...hooks, resolve, reject }));
  }

  has(id: string): boolean {
    return this.calls.has(id);
  }

  get size(): number {
    return this.calls.size;
  }

  /** A streamed event of the call; false when no such call is open (late event of a cancelled call). */
  event(id: string, e: E): boolean {
    const c = this.calls.get(id);
    if (!c) return false;
    c.onMessage?.();
    c.onEvent?.(e);
    return true;
  }

  result(id: string, value: unknown): boolean {
    const c = this.take(id);
    c?.resolve(value);
    return !!c;
  }

  /** The other side's error for the call (serialized or not), as a TwinLensError. */
  error(id: string, err: SerializedError | unknown): boolean {
    const c = this.take(id);
    c?.reject(toTwinLensError(err));
    return !!c;
  }

  /** Fails one call with this side's own reason (a stall, a cancel that cannot reach the other side). */
  fail(id: string, err: TwinLensError): boolean {
    const c = this.take(id);
    c?.reject(err);
    return !!c;
  }

  /** Fails every open call (the other side is gone). */
  failAll(err: TwinLensError): void {
    for (const id of [...this.calls.keys()]) this.fail(id, err);
  }

  private take(id: string): Entry<E> | undefined {
    const c = this.calls.get(id);
    if (!c) return undefined;
    this.calls.delete(id);
    c.cleanup?.();
    return c;
  }
}
