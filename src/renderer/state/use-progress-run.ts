/**
 * One long, stoppable engine call at a time with live `eval-progress`
 * (done/total, ETA): the shared mechanics of the Eval view's suite run and
 * its leakage probe. Stop aborts the call; the engine finishes the current
 * item and returns a partial result (complete: false), shown as "stopped".
 */
import { useCallback, useRef, useState } from 'react';
import type { ContractParams, ContractResults, EngineEvent } from '../../shared/contract.js';
import { toTwinLensError } from '../../shared/errors.js';
import type { Bridge } from '../bridge/index.js';

export type EvalProgressView = Extract<EngineEvent, { type: 'eval-progress' }>;
export type RunStatus = 'idle' | 'running' | 'stopping' | 'done' | 'stopped' | 'error';

/** Methods whose result says whether the run completed. */
export type ProgressMethod = 'evaluate' | 'leakage';

export interface ProgressRun<M extends ProgressMethod> {
  status: RunStatus;
  progress?: EvalProgressView;
  value?: ContractResults[M];
  /** Wall time of the last finished call in the page. */
  ms?: number;
  error?: string;
  run(params: ContractParams[M]): Promise<void>;
  stop(): void;
}

export function useProgressRun<M extends ProgressMethod>(bridge: Bridge, method: M, onEvent?: (e: EngineEvent) => void): ProgressRun<M> {
  const [state, setState] = useState<Omit<ProgressRun<M>, 'run' | 'stop'>>({ status: 'idle' });
  const controller = useRef<AbortController | undefined>(undefined);
  const sink = useRef(onEvent);
  sink.current = onEvent;

  const run = useCallback(
    async (params: ContractParams[M]) => {
      controller.current?.abort();
      const c = new AbortController();
      controller.current = c;
      const started = performance.now();
      setState({ status: 'running' });
      try {
        const value = await bridge.call(method, params, {
          signal: c.signal,
          onEvent: (e) => {
            sink.current?.(e);
            if (e.type === 'eval-progress' && controller.current === c) setState((s) => ({ ...s, progress: e }));
          },
        });
        if (controller.current !== c) return;
        setState((s) => ({ status: value.complete ? 'done' : 'stopped', progress: s.progress, value, ms: performance.now() - started }));
      } catch (e) {
        if (controller.current !== c) return;
        const err = toTwinLensError(e);
        setState((s) => ({ ...s, status: err.code === 'CANCELLED' ? 'stopped' : 'error', error: err.code === 'CANCELLED' ? undefined : err.oneLine() }));
      } finally {
        if (controller.current === c) controller.current = undefined;
      }
    },
    [bridge, method],
  );

  const stop = useCallback(() => {
    if (!controller.current) return;
    controller.current.abort();
    setState((s) => (s.status === 'running' ? { ...s, status: 'stopping' } : s));
  }, []);

  return { ...state, run, stop };
}
