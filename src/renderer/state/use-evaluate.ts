/**
 * The Eval view's run: one `evaluate` call at a time, its live progress
 * (done/total, ETA, running accuracy per mode), stop (the engine finishes
 * the current item and returns the partial summary), and the result.
 */
import type { ContractParams, EngineEvent, EvaluateResult } from '../../shared/contract.js';
import type { Bridge } from '../bridge/index.js';
import { type EvalProgressView, type RunStatus, useProgressRun } from './use-progress-run.js';

export type { EvalProgressView };

export interface EvaluateView {
  status: RunStatus;
  progress?: EvalProgressView;
  result?: EvaluateResult;
  error?: string;
  run(params: ContractParams['evaluate']): Promise<void>;
  stop(): void;
}

export function useEvaluate(bridge: Bridge, onEvent?: (e: EngineEvent) => void): EvaluateView {
  const { value, ...rest } = useProgressRun(bridge, 'evaluate', onEvent);
  return { ...rest, result: value };
}
