/**
 * The Models view: the open pack's components (path, execution provider,
 * loaded or not), its answer modes with the reason any is unavailable, its
 * taps, and the engine's memory/cost estimate (`estimate`: weights,
 * activations, KV cache per component, the chosen tap's share of the UNet,
 * whether it fits in free memory); open another pack by folder path (the
 * engine's machine) — its estimate can be checked before opening it; or
 * compose one from published ONNX exports (ComposePack.tsx).
 */
import { useCallback, useEffect, useState } from 'react';
import type { PackEstimate, PackInfo } from '../../../shared/contract.js';
import { toTwinLensError } from '../../../shared/errors.js';
import type { Bridge } from '../../bridge/index.js';
import { BrowseButton } from '../BrowseButton.js';
import { formatBytes } from '../../lib/format.js';
import { ComposePack } from './ComposePack.js';
import { GetModels } from './GetModels.js';

interface Props {
  hidden?: boolean;
  bridge: Bridge;
  pack: PackInfo | undefined;
  packError: string | undefined;
  onOpenPack(dir: string): Promise<void>;
}

/** The pack's parts: what the estimate found on disk, with the sessions the engine has opened (provider, loaded). */
export function componentRows(pack: PackInfo, estimate: PackEstimate | undefined): Array<{ name: string; path: string; provider?: string; loaded: boolean }> {
  const rows = new Map<string, { name: string; path: string; provider?: string; loaded: boolean }>();
  const own = estimate && estimate.pack.replace(/\/+$/, '').endsWith(pack.dir.replace(/\/+$/, '')) ? estimate : undefined;
  for (const c of own?.components ?? []) rows.set(c.label, { name: c.label, path: c.path, loaded: false });
  for (const [name, c] of Object.entries(pack.components)) {
    const key = [...rows.keys()].find((k) => k.toLowerCase() === name.toLowerCase()) ?? name;
    rows.set(key, { name: key, path: rows.get(key)?.path ?? c.path, provider: c.provider, loaded: c.loaded });
  }
  return [...rows.values()];
}

export function ModelsView({ hidden, bridge, pack, packError, onOpenPack }: Props) {
  const [estimate, setEstimate] = useState<PackEstimate>();
  const [estimateError, setEstimateError] = useState<string>();
  const [dir, setDir] = useState('');
  const [busy, setBusy] = useState(false);

  const estimateFor = useCallback(
    (target?: string) => {
      setEstimateError(undefined);
      bridge.call('estimate', { ...(target ? { dir: target } : {}), ...(pack?.defaults?.tap && !target ? { tap: pack.defaults.tap } : {}) }).then(
        (e) => setEstimate(e),
        (e: unknown) => {
          setEstimate(undefined);
          setEstimateError(toTwinLensError(e).oneLine());
        },
      );
    },
    [bridge, pack?.defaults?.tap],
  );

  useEffect(() => {
    if (!hidden && pack) estimateFor();
  }, [hidden, pack?.dir, pack?.name, estimateFor]);

  return (
    <main className="models-view" data-testid="models-view" hidden={hidden}>
      <aside className="eval-side">
        <form
          className="field small"
          onSubmit={(e) => {
            e.preventDefault();
            if (!dir.trim()) return;
            setBusy(true);
            void onOpenPack(dir.trim()).finally(() => setBusy(false));
          }}
        >
          Open another pack (a folder with pack.json, on the engine’s machine)
          <span className="row-2">
            <input type="text" value={dir} onChange={(e) => setDir(e.currentTarget.value)} placeholder="/path/to/another/pack" data-testid="models-pack-dir" />
            <BrowseButton bridge={bridge} kind="directory" title="Choose a pack folder (contains pack.json)" onPick={setDir} testId="models-browse" />
          </span>
          <div className="row-2">
            <button type="submit" className="primary" disabled={!dir.trim() || busy} data-testid="models-open">
              {busy ? 'Opening…' : 'Open'}
            </button>
            <button type="button" disabled={!dir.trim()} onClick={() => estimateFor(dir.trim())} title="Estimate its memory before loading it" data-testid="models-estimate">
              Estimate
            </button>
          </div>
        </form>
        <GetModels bridge={bridge} onOpenPack={onOpenPack} />
        <ComposePack bridge={bridge} onOpenPack={onOpenPack} />
        <p className="muted small">
          The same from a terminal: <code>npx twinlens packs import --sd DIR --clip DIR --llm DIR --out PACK</code>.
        </p>
      </aside>
      {/* focusable so the keyboard can scroll it (axe: scrollable-region-focusable) */}
      <section className="models-main" tabIndex={0} aria-label="Pack parts and modes">
        {packError && <p className="error-text">No pack: {packError}</p>}
        {pack && (
          <>
            <section className="eval-items">
              <h3 data-testid="models-pack">
                {pack.name} <span className="muted small">{pack.dir}</span>
              </h3>
              <p className="small">{pack.description}</p>
              <table className="eval-table" data-testid="models-components">
                <thead>
                  <tr>
                    <th>component</th>
                    <th>path</th>
                    <th>provider</th>
                    <th>loaded</th>
                  </tr>
                </thead>
                <tbody>
                  {componentRows(pack, estimate).map((c) => (
                    <tr key={c.name}>
                      <td>{c.name}</td>
                      <td className="small">{c.path}</td>
                      <td>{c.provider ?? '–'}</td>
                      <td>{c.loaded ? 'yes' : 'on first use'}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </section>
            <section className="eval-items">
              <h3>Answer modes</h3>
              <table className="eval-table" data-testid="models-modes">
                <tbody>
                  {pack.modes.map((m) => (
                    <tr key={m.id} data-available={m.available}>
                      <td>
                        <b>{m.label}</b> <span className="muted small">{m.id}</span>
                      </td>
                      <td className="small">
                        {m.inputs.join(' + ')}
                        {m.fusion !== 'none' ? ` · ${m.fusion} fusion` : ''}
                        {m.extra ? ' · extra' : ''}
                      </td>
                      <td className={m.available ? 'ok' : 'wrong'}>{m.available ? 'available' : `unavailable: ${m.reason ?? 'missing parts'}`}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
              <p className="small muted">
                Taps: {pack.taps.filter((t) => t.available).length} available of {pack.taps.length} ({pack.taps.filter((t) => t.study).length} of the study’s layers)
                {pack.imageSize ? ` · image ${pack.imageSize}px` : ''}
              </p>
            </section>
          </>
        )}
        <section className="eval-items" data-testid="models-estimate-result">
          <h3>Memory estimate {estimate ? <span className="muted small">{estimate.pack}</span> : null}</h3>
          {estimateError && <p className="error-text small">{estimateError}</p>}
          {!estimate && !estimateError && <p className="muted small">Estimating…</p>}
          {estimate && (
            <>
              <table className="eval-table">
                <thead>
                  <tr>
                    <th>component</th>
                    <th>weights</th>
                    <th>activations</th>
                    <th>KV cache</th>
                    <th>total</th>
                    <th>notes</th>
                  </tr>
                </thead>
                <tbody>
                  {estimate.components.map((c) => (
                    <tr key={c.label}>
                      <td>{c.label}</td>
                      <td>{formatBytes(c.weightsBytes)}</td>
                      <td>{formatBytes(c.activationBytes)}</td>
                      <td>{c.kvCacheBytes !== undefined ? formatBytes(c.kvCacheBytes) : '–'}</td>
                      <td>{formatBytes(c.totalBytes)}</td>
                      <td className="small muted">{c.notes.join('; ')}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
              <p className="small">
                Total <b data-testid="models-total">{formatBytes(estimate.totalBytes)}</b> of {formatBytes(estimate.freeBytes)} free ·{' '}
                <span className={estimate.fits ? 'ok' : 'error-text'}>{estimate.fits ? 'fits' : 'does not fit'}</span>
                {estimate.tap?.cost ? ` · tap ${estimate.tap.alias}: ${Math.round(estimate.tap.cost.fraction * 100)} % of the UNet (${estimate.tap.cost.gmacsKept.toFixed(2)} of ${estimate.tap.cost.gmacsTotal.toFixed(2)} GMACs)` : ''}
              </p>
              {estimate.notes.length > 0 && <p className="small muted">{estimate.notes.join(' ')}</p>}
            </>
          )}
        </section>
      </section>
    </main>
  );
}
