/**
 * Asking: one `ask` call per answer column (CLIP-only, diffusion-only,
 * fused, …), so each column streams its own tokens, shows its own time and
 * can be stopped on its own. The engine runs requests one at a time, so the
 * columns fill in turn; a column waiting its turn says "queued".
 *
 * A run replaces the previous run of the same column (its call is aborted);
 * events of a superseded call are ignored by generation number.
 */
import { useCallback, useRef, useState } from 'react';
import type { AskResult, EngineEvent, ModeAnswer, StopReason } from '../../shared/contract.js';
import { type SerializedError, toTwinLensError } from '../../shared/errors.js';
import type { Bridge } from '../bridge/index.js';
import { type Knobs, toDiffusionSettings, toGenerationSettings } from './settings.js';

export type ColumnStatus = 'idle' | 'queued' | 'running' | 'done' | 'stopped' | 'error';

export interface ColumnRun {
  status: ColumnStatus;
  text: string;
  tokens: number;
  /** Wall time of the mode as the engine measured it (done), or since it started (running). */
  ms?: number;
  /** The LLM's prompt pass and the decoding after the first token (done). */
  prefillMs?: number;
  decodeMs?: number;
  startedAt?: number;
  stop?: StopReason;
  error?: SerializedError;
  question?: string;
  /** How many times this column has been run (tests and the UI tell a re-run from a stale answer). */
  runs: number;
}

export interface RunRequest {
  image: { bytes: Uint8Array<ArrayBuffer>; name: string };
  question: string;
  knobs: Knobs;
  modes: string[];
}

export interface AskApi {
  columns: Record<string, ColumnRun>;
  busy: boolean;
  /** Resolves when every requested column has finished (done, stopped or failed), with the final columns. */
  run(req: RunRequest): Promise<Record<string, ColumnRun>>;
  stop(mode?: string): void;
  reset(): void;
}

export function useAsk(bridge: Bridge, onEvent?: (e: EngineEvent) => void): AskApi {
  const [columns, setColumns] = useState<Record<string, ColumnRun>>({});
  const columnsRef = useRef(columns);
  const controllers = useRef(new Map<string, AbortController>());
  const generation = useRef(new Map<string, number>());
  const [inFlight, setInFlight] = useState(0);
  const eventSink = useRef(onEvent);
  eventSink.current = onEvent;

  const patch = useCallback((mode: string, gen: number, p: Partial<ColumnRun> | ((c: ColumnRun) => Partial<ColumnRun>)) => {
    if (generation.current.get(mode) !== gen) return;
    // The ref is the source of truth (run() reads it right after the calls settle); state mirrors it for rendering.
    const cols = columnsRef.current;
    const prev: ColumnRun = cols[mode] ?? { status: 'idle', text: '', tokens: 0, runs: 0 };
    const next = { ...cols, [mode]: { ...prev, ...(typeof p === 'function' ? p(prev) : p) } };
    columnsRef.current = next;
    setColumns(next);
  }, []);

  const runMode = useCallback(
    async (req: RunRequest, mode: string): Promise<void> => {
      controllers.current.get(mode)?.abort();
      const controller = new AbortController();
      controllers.current.set(mode, controller);
      const gen = (generation.current.get(mode) ?? 0) + 1;
      generation.current.set(mode, gen);
      patch(mode, gen, (c) => ({
        status: 'queued',
        text: '',
        tokens: 0,
        ms: undefined,
        startedAt: undefined,
        stop: undefined,
        error: undefined,
        question: req.question,
        runs: (c.runs ?? 0) + 1,
      }));
      setInFlight((n) => n + 1);
      const onEv = (e: EngineEvent) => {
        eventSink.current?.(e);
        if (e.type === 'mode-start') patch(mode, gen, { status: 'running', startedAt: Date.now() });
        else if (e.type === 'token')
          patch(mode, gen, (c) => ({ status: 'running', startedAt: c.startedAt ?? Date.now(), text: c.text + e.text, tokens: c.tokens + 1 }));
        else if (e.type === 'mode-done') patch(mode, gen, finalPatch(e.answer));
      };
      try {
        const result: AskResult = await bridge.call(
          'ask',
          {
            image: req.image,
            question: req.question,
            modes: [mode],
            diffusion: toDiffusionSettings(req.knobs),
            generation: toGenerationSettings(req.knobs),
          },
          { signal: controller.signal, onEvent: onEv },
        );
        const answer = result.answers[mode];
        if (answer) patch(mode, gen, finalPatch(answer));
        else patch(mode, gen, { status: 'error', error: { code: 'INTERNAL', message: `The engine returned no answer for ${mode}` } });
      } catch (e) {
        const err = toTwinLensError(e);
        if (err.code === 'CANCELLED' || controller.signal.aborted) {
          patch(mode, gen, (c) => ({ status: 'stopped', stop: 'cancelled', ms: c.startedAt ? Date.now() - c.startedAt : c.ms }));
        } else {
          patch(mode, gen, (c) => ({ status: 'error', error: err.toJSON(), ms: c.startedAt ? Date.now() - c.startedAt : c.ms }));
        }
      } finally {
        if (controllers.current.get(mode) === controller) controllers.current.delete(mode);
        setInFlight((n) => n - 1);
      }
    },
    [bridge, patch],
  );

  const run = useCallback(
    async (req: RunRequest) => {
      await Promise.all(req.modes.map((m) => runMode(req, m)));
      return columnsRef.current;
    },
    [runMode],
  );

  const stop = useCallback((mode?: string) => {
    for (const [m, c] of controllers.current) if (!mode || m === mode) c.abort();
  }, []);

  const reset = useCallback(() => {
    for (const c of controllers.current.values()) c.abort();
    controllers.current.clear();
    for (const m of generation.current.keys()) generation.current.set(m, (generation.current.get(m) ?? 0) + 1);
    columnsRef.current = {};
    setColumns({});
  }, []);

  return { columns, busy: inFlight > 0, run, stop, reset };
}

function finalPatch(a: ModeAnswer): Partial<ColumnRun> {
  // A request cancelled while it waited in the engine's queue comes back as an answer with a CANCELLED error.
  if (a.stop === 'cancelled' || a.error?.code === 'CANCELLED') return { status: 'stopped', text: a.text, tokens: a.tokens, ms: a.ms, stop: 'cancelled' };
  if (a.error) return { status: 'error', text: a.text, tokens: a.tokens, ms: a.ms, stop: a.stop, error: a.error };
  return { status: 'done', text: a.text, tokens: a.tokens, ms: a.ms, prefillMs: a.prefillMs, decodeMs: a.decodeMs, stop: a.stop };
}
