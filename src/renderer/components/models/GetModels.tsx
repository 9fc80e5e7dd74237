/**
 * Models → Get models: the tested public exports (the engine's catalog) with
 * their sizes and what each adds, downloads with progress, speed and ETA,
 * Stop (the partial file stays) and Resume (continues from it, also after a
 * restart of the app), then one click to compose the downloaded parts into a
 * pack and open it. Everything runs on the engine's machine: `listCatalog`,
 * `downloadModel` (the same pull as `twinlens pull`) and `composePack`.
 */
import { useEffect, useRef, useState } from 'react';
import type { CatalogEntry } from '../../../shared/catalog.js';
import type { CatalogList, EngineEvent } from '../../../shared/contract.js';
import { toTwinLensError } from '../../../shared/errors.js';
import type { Bridge } from '../../bridge/index.js';
import { formatBytes } from '../../lib/format.js';

interface Props {
  bridge: Bridge;
  onOpenPack(dir: string): Promise<void>;
}

interface Row {
  status: 'idle' | 'downloading' | 'stopped' | 'done' | 'error';
  done?: number;
  total?: number;
  message?: string;
  folder?: string;
  error?: string;
}

export function GetModels({ bridge, onOpenPack }: Props) {
  const [catalog, setCatalog] = useState<CatalogList>();
  const [loadError, setLoadError] = useState<string>();
  const [rows, setRows] = useState<Record<string, Row>>({});
  const [compose, setCompose] = useState<{ busy: boolean; error?: string }>({ busy: false });
  const controllers = useRef(new Map<string, AbortController>());

  useEffect(() => {
    bridge.call('listCatalog', {}).then(setCatalog, (e) => setLoadError(toTwinLensError(e).oneLine()));
    const live = controllers.current;
    return () => live.forEach((c) => c.abort());
  }, [bridge]);

  const patch = (id: string, p: Partial<Row>) => setRows((r) => ({ ...r, [id]: { ...(r[id] ?? { status: 'idle' }), ...p } }));

  const download = async (e: CatalogEntry) => {
    const controller = new AbortController();
    controllers.current.set(e.id, controller);
    patch(e.id, { status: 'downloading', error: undefined, message: 'starting…' });
    const onEvent = (ev: EngineEvent) => {
      if (ev.type === 'progress') patch(e.id, { done: ev.done, total: ev.total, message: ev.message });
    };
    try {
      const r = await bridge.call('downloadModel', { id: e.id }, { signal: controller.signal, onEvent });
      patch(e.id, { status: 'done', folder: r.folder, done: r.bytes, total: r.bytes, message: `${formatBytes(r.bytes)} verified` });
    } catch (err) {
      const te = toTwinLensError(err);
      if (controller.signal.aborted || te.code === 'CANCELLED') patch(e.id, { status: 'stopped', message: 'stopped: Resume continues from the partial file' });
      else patch(e.id, { status: 'error', error: te.oneLine() });
    } finally {
      controllers.current.delete(e.id);
    }
  };

  const entries = catalog?.entries ?? [];
  const ready = (role: string) => entries.find((e) => e.role === role && rows[e.id]?.status === 'done');
  const parts = (['sd', 'clip', 'llm'] as const).map(ready).filter((e): e is CatalogEntry => !!e);

  const composeAndOpen = async () => {
    if (!catalog || !parts.length) return;
    const name = parts.map((p) => p.id).join('+');
    setCompose({ busy: true });
    try {
      const folderOf = (role: string) => {
        const e = parts.find((p) => p.role === role);
        return e ? rows[e.id]?.folder : undefined;
      };
      const r = await bridge.call('composePack', {
        ...(folderOf('sd') ? { sd: folderOf('sd') } : {}),
        ...(folderOf('clip') ? { clip: folderOf('clip') } : {}),
        ...(folderOf('llm') ? { llm: folderOf('llm') } : {}),
        out: `${catalog.packsDir}/${name}`,
        name,
      });
      if (!r.usable) throw new Error(`the composed pack is not usable: ${r.checks.filter((c) => c.status === 'error').map((c) => c.message).join('; ')}`);
      await onOpenPack(r.dir);
      setCompose({ busy: false });
    } catch (e) {
      setCompose({ busy: false, error: toTwinLensError(e).oneLine() });
    }
  };

  return (
    <section className="field small get-models" aria-label="Get models" data-testid="get-models">
      <b>Get models</b>
      {loadError && <p className="error-text">{loadError}</p>}
      {catalog && (
        <span className="muted">
          into {catalog.cacheDir} · {formatBytes(catalog.freeBytes)} free
        </span>
      )}
      <ul className="catalog">
        {entries.map((e) => {
          const r = rows[e.id] ?? { status: 'idle' };
          const tooBig = !!catalog && e.bytes > catalog.freeBytes;
          return (
            <li key={e.id} data-testid={`catalog-${e.id}`} data-status={r.status}>
              <span>
                <b>{e.title}</b> <span className="muted">· {e.role.toUpperCase()} · {formatBytes(e.bytes)}</span>
              </span>
              <span className="muted">{e.adds}</span>
              {(r.status === 'downloading' || r.done !== undefined) && (
                <progress max={Math.max(1, r.total ?? 1)} value={r.done ?? 0} aria-label={`${e.title} download`} />
              )}
              {r.message && <span data-testid={`catalog-msg-${e.id}`}>{r.message}</span>}
              {r.error && <span className="error-text">{r.error}</span>}
              {tooBig && r.status !== 'done' && <span className="error-text">needs {formatBytes(e.bytes)}, more than is free</span>}
              <span className="row-2">
                {r.status === 'downloading' ? (
                  <button type="button" onClick={() => controllers.current.get(e.id)?.abort()} data-testid={`catalog-stop-${e.id}`}>
                    Stop
                  </button>
                ) : (
                  r.status !== 'done' && (
                    <button type="button" onClick={() => void download(e)} data-testid={`catalog-get-${e.id}`}>
                      {r.status === 'stopped' || r.status === 'error' ? 'Resume' : 'Download'}
                    </button>
                  )
                )}
              </span>
            </li>
          );
        })}
      </ul>
      <button type="button" className="primary" disabled={!parts.length || compose.busy} onClick={() => void composeAndOpen()} data-testid="catalog-compose">
        {compose.busy ? 'Composing…' : parts.length ? `Compose ${parts.map((p) => p.id).join(' + ')} and open` : 'Compose and open (download a part first)'}
      </button>
      {compose.error && (
        <p className="error-text" data-testid="catalog-compose-error">
          {compose.error}
        </p>
      )}
    </section>
  );
}
