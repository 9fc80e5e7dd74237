/**
 * The workbench contract: every method the UI, the CLI and the web server can
 * call on the engine, with zod schemas for the arguments (parsed at every
 * process boundary) and plain types for the results. Tensors travel as typed
 * arrays (structured clone), never as JSON numbers.
 *
 * The types live in contract/ by method family (common, ask + features,
 * visualize, eval, leakage, packs); this file re-exports them and holds the
 * method table itself: CONTRACT, its params and results, and the events.
 */
import { z } from 'zod';
import { AskParams, type AskResult, FeaturesParams, type FeaturesResult, type ModeAnswer } from './contract/ask.js';
import { EvaluateParams, type EvaluateResult, type SuiteList } from './contract/eval.js';
import { LeakageParams, type LeakageReport } from './contract/leakage.js';
import {
  type CatalogList,
  CheckPacksParams,
  type CheckPacksResult,
  DownloadModelParams,
  type DownloadModelResult,
  ComposePackParams,
  type ComposePackResult,
  type EngineStatus,
  EstimateParams,
  OpenPackParams,
  type PackEstimate,
  type PackInfo,
} from './contract/packs.js';
import { VisualizeParams, type VisualizeResult } from './contract/visualize.js';

export * from './contract/common.js';
export * from './contract/ask.js';
export * from './contract/visualize.js';
export * from './contract/eval.js';
export * from './contract/leakage.js';
export * from './contract/packs.js';

export const CancelParams = z.object({ requestId: z.string().min(1) });

/** Events a long request emits before its result. */
export type EngineEvent =
  | { type: 'progress'; stage: string; done: number; total: number; message?: string }
  | { type: 'token'; mode: string; text: string; tokenId: number }
  | { type: 'mode-start'; mode: string }
  | { type: 'mode-done'; mode: string; answer: ModeAnswer }
  /** evaluate: after each item × setting (running accuracy per mode over the finished ones); leakage: after each ask (running: {}). */
  | {
      type: 'eval-progress';
      done: number;
      total: number;
      elapsedMs: number;
      etaMs?: number;
      item?: string;
      setting?: string;
      running: Record<string, { correct: number; n: number }>;
    };

/** Method name → params schema. The preload, IPC broker and HTTP server are generated from this. */
export const CONTRACT = {
  packInfo: z.object({}).default({}),
  openPack: OpenPackParams,
  ask: AskParams,
  features: FeaturesParams,
  status: z.object({}).default({}),
  visualize: VisualizeParams,
  evaluate: EvaluateParams,
  listSuites: z.object({}).default({}),
  estimate: EstimateParams,
  leakage: LeakageParams,
  composePack: ComposePackParams,
  checkPacks: CheckPacksParams,
  listCatalog: z.object({}).default({}),
  downloadModel: DownloadModelParams,
} as const;

export type ContractMethod = keyof typeof CONTRACT;
export const CONTRACT_METHODS = Object.keys(CONTRACT) as ContractMethod[];

export interface ContractResults {
  packInfo: PackInfo;
  openPack: PackInfo;
  ask: AskResult;
  features: FeaturesResult;
  status: EngineStatus;
  visualize: VisualizeResult;
  evaluate: EvaluateResult;
  listSuites: SuiteList;
  estimate: PackEstimate;
  leakage: LeakageReport;
  composePack: ComposePackResult;
  checkPacks: CheckPacksResult;
  listCatalog: CatalogList;
  downloadModel: DownloadModelResult;
}

export type ContractParams = { [K in ContractMethod]: z.input<(typeof CONTRACT)[K]> };
