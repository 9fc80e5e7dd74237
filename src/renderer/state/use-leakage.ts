/**
 * The Eval view's leakage probe: one `leakage` call at a time, its live
 * progress (done/total asks, ETA), stop (the engine finishes the current
 * ask and returns the report over the items finished, complete: false),
 * and the report.
 */
import type { ContractParams, EngineEvent, LeakageReport } from '../../shared/contract.js';
import type { Bridge } from '../bridge/index.js';
import { type EvalProgressView, type RunStatus, useProgressRun } from './use-progress-run.js';

export interface LeakageView {
  status: RunStatus;
  progress?: EvalProgressView;
  report?: LeakageReport;
  ms?: number;
  error?: string;
  run(params: ContractParams['leakage']): Promise<void>;
  stop(): void;
}

export function useLeakage(bridge: Bridge, onEvent?: (e: EngineEvent) => void): LeakageView {
  const { value, ...rest } = useProgressRun(bridge, 'leakage', onEvent);
  return { ...rest, report: value };
}
