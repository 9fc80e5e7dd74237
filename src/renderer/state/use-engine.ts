/**
 * The engine as the status bar and the columns see it: its process state
 * (starting, ready, crashed and restarted), the open pack, memory and
 * execution providers (the `status` method), the latest progress event, and
 * notices worth telling the user ("the engine crashed and was restarted").
 *
 * The engine answers `status` outside its request queue, so memory is
 * polled during runs too (faster while busy, to catch the peak moving).
 */
import { useCallback, useEffect, useRef, useState } from 'react';
import type { EngineEvent, EngineStatus, PackInfo } from '../../shared/contract.js';
import { toTwinLensError } from '../../shared/errors.js';
import type { Bridge, EngineStateView, HostEvent } from '../bridge/index.js';

export interface Notice {
  id: number;
  level: 'info' | 'error';
  message: string;
}

export interface ProgressView {
  stage: string;
  done: number;
  total: number;
  message?: string;
  at: number;
}

export interface EngineView {
  engine: EngineStateView;
  connected: boolean;
  pack: PackInfo | undefined;
  packError: string | undefined;
  status: EngineStatus | undefined;
  progress: ProgressView | undefined;
  notices: Notice[];
  dismiss(id: number): void;
  notify(level: Notice['level'], message: string): void;
  /** Feed progress events of any call here (the status bar shows the latest). */
  onProgress(e: EngineEvent): void;
  refresh(): void;
  openPack(dir: string): Promise<void>;
}

const POLL_IDLE_MS = 3000;
const POLL_BUSY_MS = 1000;

export function useEngine(bridge: Bridge, busy: boolean, onHostEvent: (e: HostEvent) => void): EngineView {
  const [engine, setEngine] = useState<EngineStateView>({ state: 'starting', restarts: 0 });
  const [connected, setConnected] = useState(true);
  const [pack, setPack] = useState<PackInfo>();
  const [packError, setPackError] = useState<string>();
  const [status, setStatus] = useState<EngineStatus>();
  const [progress, setProgress] = useState<ProgressView>();
  const [notices, setNotices] = useState<Notice[]>([]);
  const noticeId = useRef(0);
  const lastState = useRef<EngineStateView>(engine);
  const readyRestarts = useRef<number | undefined>(undefined);
  const hostHandler = useRef(onHostEvent);
  hostHandler.current = onHostEvent;

  const notify = useCallback((level: Notice['level'], message: string) => {
    noticeId.current += 1;
    const id = noticeId.current;
    setNotices((n) => [...n.slice(-3), { id, level, message }]);
    if (level === 'info') setTimeout(() => setNotices((n) => n.filter((x) => x.id !== id)), 8000);
  }, []);
  const dismiss = useCallback((id: number) => setNotices((n) => n.filter((x) => x.id !== id)), []);

  const refresh = useCallback(() => {
    bridge.call('packInfo', {}).then(
      (p) => {
        setPack(p);
        setPackError(undefined);
      },
      (e) => setPackError(toTwinLensError(e).oneLine()),
    );
    bridge.call('status', {}).then(setStatus, () => undefined);
  }, [bridge]);

  useEffect(() => {
    return bridge.subscribe((e) => {
      if (e.type === 'engine') {
        const prev = lastState.current;
        lastState.current = e.engine;
        setEngine(e.engine);
        if (e.engine.state === 'crashed') notify('error', `The engine stopped (${e.engine.message ?? 'crashed'}); restarting it…`);
        if (e.engine.state === 'ready' && prev.state !== 'ready') {
          // The first ready state seen is the baseline (a page opened after earlier restarts says nothing).
          if (readyRestarts.current !== undefined && e.engine.restarts > readyRestarts.current) {
            notify('info', `The engine was restarted (${e.engine.restarts} so far); your image, question and history are kept.`);
          }
          readyRestarts.current = e.engine.restarts;
          refresh();
        }
      } else if (e.type === 'connection') {
        setConnected(e.connected);
        if (e.connected) refresh();
      } else if (e.type === 'pack') {
        setPack(e.pack);
        setPackError(undefined);
        notify('info', `Opened pack ${e.pack.name}`);
      } else if (e.type === 'notice') {
        notify(e.level, e.message);
      } else {
        hostHandler.current(e);
      }
    });
  }, [bridge, notify, refresh]);

  useEffect(() => {
    refresh();
  }, [refresh]);

  useEffect(() => {
    if (engine.state !== 'ready') return;
    const timer = setInterval(() => bridge.call('status', {}).then(setStatus, () => undefined), busy ? POLL_BUSY_MS : POLL_IDLE_MS);
    bridge.call('status', {}).then(setStatus, () => undefined);
    return () => clearInterval(timer);
  }, [bridge, busy, engine.state]);

  const onProgress = useCallback((e: EngineEvent) => {
    if (e.type === 'progress') setProgress({ stage: e.stage, done: e.done, total: e.total, message: e.message, at: Date.now() });
  }, []);

  const openPack = useCallback(
    async (dir: string) => {
      try {
        const p = await bridge.call('openPack', { dir });
        setPack(p);
        setPackError(undefined);
        notify('info', `Opened pack ${p.name}`);
        bridge.call('status', {}).then(setStatus, () => undefined);
      } catch (e) {
        notify('error', `Could not open ${dir}: ${toTwinLensError(e).oneLine()}`);
      }
    },
    [bridge, notify],
  );

  return { engine, connected, pack, packError, status, progress, notices, dismiss, notify, onProgress, refresh, openPack };
}
