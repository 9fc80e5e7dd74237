/**
 * The Eval view's run: one `evaluate` call at a time, its live progress
 * (done/total, ETA, running accuracy per mode), stop (the engine finishes
 * the current item and returns the partial summary), and the result.
 */
import { useCallback, useRef, useState } from 'react';
import type { ContractParams, EngineEvent, EvaluateResult } from '../../shared/contract.js';
import { toTwinLensError } from '../../shared/errors.js';
import type { Bridge } from '../bridge/index.js';

export type EvalProgressView = Extract<EngineEvent, { type: 'eval-progress' }>;

export interface EvaluateView {
  status: 'idle' | 'running' | 'stopping' | 'done' | 'stopped' | 'error';
  progress?: EvalProgressView;
  result?: EvaluateResult;
  error?: string;
  run(params: ContractParams['evaluate']): Promise<void>;
  stop(): void;
}

export function useEvaluate(bridge: Bridge, onEvent?: (e: EngineEvent) => void): EvaluateView {
  const [state, setState] = useState<Pick<EvaluateView, 'status' | 'progress' | 'result' | 'error'>>({ status: 'idle' });
  const controller = useRef<AbortController | undefined>(undefined);
  const sink = useRef(onEvent);
  sink.current = onEvent;

  const run = useCallback(
    async (params: ContractParams['evaluate']) => {
      controller.current?.abort();
      const c = new AbortController();
      controller.current = c;
      setState({ status: 'running' });
      try {
        const result = await bridge.call('evaluate', params, {
          signal: c.signal,
          onEvent: (e) => {
            sink.current?.(e);
            if (e.type === 'eval-progress' && controller.current === c) setState((s) => ({ ...s, progress: e }));
          },
        });
        if (controller.current !== c) return;
        setState((s) => ({ status: result.complete ? 'done' : 'stopped', progress: s.progress, result }));
      } catch (e) {
        if (controller.current !== c) return;
        const err = toTwinLensError(e);
        setState((s) => ({ ...s, status: err.code === 'CANCELLED' ? 'stopped' : 'error', error: err.code === 'CANCELLED' ? undefined : err.oneLine() }));
      } finally {
        if (controller.current === c) controller.current = undefined;
      }
    },
    [bridge],
  );

  const stop = useCallback(() => {
    if (!controller.current) return;
    controller.current.abort();
    setState((s) => (s.status === 'running' ? { ...s, status: 'stopping' } : s));
  }, []);

  return { ...state, run, stop };
}
