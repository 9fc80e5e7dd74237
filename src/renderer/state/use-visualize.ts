/**
 * The Features view's engine calls: `visualize` renders every panel in the
 * engine process (PNG bytes + hover values), so the window stays responsive
 * whatever the map size. A new request aborts the one in flight; progress
 * events drive the indicator; panel PNGs become blob: URLs, revoked when a
 * newer result replaces them.
 */
import { useCallback, useEffect, useRef, useState } from 'react';
import type { ContractParams, VisualizeResult, VisualPanel } from '../../shared/contract.js';
import { toTwinLensError } from '../../shared/errors.js';
import type { Bridge } from '../bridge/index.js';

export interface VisualizeProgress {
  stage: string;
  done: number;
  total: number;
  message?: string;
}

export interface VisualizeView {
  status: 'idle' | 'loading' | 'done' | 'error';
  result?: VisualizeResult;
  /** Panel id → blob: URL of its PNG. */
  urls: Record<string, string>;
  progress?: VisualizeProgress;
  error?: string;
  /** Increments with every result (tests and effects key on it). */
  generation: number;
  run(params: ContractParams['visualize']): void;
  cancel(): void;
}

export function panelUrls(panels: VisualPanel[]): Record<string, string> {
  return Object.fromEntries(panels.map((p) => [p.id, URL.createObjectURL(new Blob([p.png as BlobPart], { type: 'image/png' }))]));
}

export function useVisualize(bridge: Bridge): VisualizeView {
  const [state, setState] = useState<Omit<VisualizeView, 'run' | 'cancel'>>({ status: 'idle', urls: {}, generation: 0 });
  const controller = useRef<AbortController | undefined>(undefined);
  const urlsRef = useRef<Record<string, string>>({});

  useEffect(
    () => () => {
      controller.current?.abort();
      for (const u of Object.values(urlsRef.current)) URL.revokeObjectURL(u);
    },
    [],
  );

  const run = useCallback(
    (params: ContractParams['visualize']) => {
      controller.current?.abort();
      const c = new AbortController();
      controller.current = c;
      setState((s) => ({ ...s, status: 'loading', error: undefined, progress: { stage: 'visualize', done: 0, total: 1, message: 'starting' } }));
      bridge
        .call('visualize', params, {
          signal: c.signal,
          onEvent: (e) => {
            if (e.type === 'progress' && controller.current === c)
              setState((s) => ({ ...s, progress: { stage: e.stage, done: e.done, total: e.total, message: e.message } }));
          },
        })
        .then(
          (result) => {
            if (controller.current !== c) return;
            const urls = panelUrls(result.panels);
            for (const u of Object.values(urlsRef.current)) URL.revokeObjectURL(u);
            urlsRef.current = urls;
            setState((s) => ({ status: 'done', result, urls, generation: s.generation + 1 }));
          },
          (e: unknown) => {
            if (controller.current !== c) return;
            const err = toTwinLensError(e);
            setState((s) => ({
              ...s,
              status: err.code === 'CANCELLED' ? (s.result ? 'done' : 'idle') : 'error',
              error: err.code === 'CANCELLED' ? undefined : err.oneLine(),
              progress: undefined,
            }));
          },
        );
    },
    [bridge],
  );

  const cancel = useCallback(() => {
    controller.current?.abort();
  }, []);

  return { ...state, run, cancel };
}
