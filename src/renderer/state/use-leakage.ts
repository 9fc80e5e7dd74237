/**
 * The Eval view's leakage probe: one `leakage` call at a time, its live
 * progress (done/total asks, ETA), stop (the engine finishes the current
 * ask and returns the report over the items finished, complete: false),
 * and the report.
 */
import { useCallback, useRef, useState } from 'react';
import type { ContractParams, EngineEvent, LeakageReportDoc } from '../../shared/contract.js';
import { toTwinLensError } from '../../shared/errors.js';
import type { Bridge } from '../bridge/index.js';
import type { EvalProgressView } from './use-evaluate.js';

export interface LeakageView {
  status: 'idle' | 'running' | 'stopping' | 'done' | 'stopped' | 'error';
  progress?: EvalProgressView;
  report?: LeakageReportDoc;
  ms?: number;
  error?: string;
  run(params: ContractParams['leakage']): Promise<void>;
  stop(): void;
}

export function useLeakage(bridge: Bridge, onEvent?: (e: EngineEvent) => void): LeakageView {
  const [state, setState] = useState<Pick<LeakageView, 'status' | 'progress' | 'report' | 'ms' | 'error'>>({ status: 'idle' });
  const controller = useRef<AbortController | undefined>(undefined);
  const sink = useRef(onEvent);
  sink.current = onEvent;

  const run = useCallback(
    async (params: ContractParams['leakage']) => {
      controller.current?.abort();
      const c = new AbortController();
      controller.current = c;
      const started = performance.now();
      setState({ status: 'running' });
      try {
        const report = await bridge.call('leakage', params, {
          signal: c.signal,
          onEvent: (e) => {
            sink.current?.(e);
            if (e.type === 'eval-progress' && controller.current === c) setState((s) => ({ ...s, progress: e }));
          },
        });
        if (controller.current !== c) return;
        setState((s) => ({ status: report.complete ? 'done' : 'stopped', progress: s.progress, report, ms: performance.now() - started }));
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
