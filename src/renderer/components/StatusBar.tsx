/**
 * The status bar: which pack is open, which execution provider runs each
 * model, the engine process' memory (now and peak), model-loading progress,
 * and the engine's life (starting, ready, crashed → restarted). In web mode
 * it also says when the connection to the server is lost.
 */
import { type EngineStatus, PROVIDER_CHOICES, type PackInfo, type ProviderChoiceName } from '../../shared/contract.js';
import type { EngineStateView } from '../bridge/index.js';
import { formatBytes } from '../lib/format.js';
import type { ProgressView } from '../state/use-engine.js';

interface Props {
  engine: EngineStateView;
  connected: boolean;
  pack: PackInfo | undefined;
  status: EngineStatus | undefined;
  progress: ProgressView | undefined;
  busy: boolean;
  onRestart?: () => void;
  /** The execution provider asked for, and how to ask for another (restarts the engine). */
  provider?: ProviderChoiceName;
  onProvider?: (p: ProviderChoiceName) => void;
}

const STATE_TEXT: Record<EngineStateView['state'], string> = {
  starting: 'engine starting…',
  ready: 'engine ready',
  crashed: 'engine crashed',
  stopped: 'engine stopped',
};

export function StatusBar({ engine, connected, pack, status, progress, busy, onRestart, provider, onProvider }: Props) {
  const providers = Object.entries(status?.providers ?? {});
  const showProgress = progress && (busy || engine.state === 'starting') && progress.total > 0 && progress.done < progress.total;
  return (
    <footer
      className="status-bar"
      data-testid="status-bar"
      data-engine-state={engine.state}
      data-engine-pid={status?.pid ?? engine.pid ?? ''}
      data-restarts={engine.restarts}
    >
      <span className={`dot dot-${connected ? engine.state : 'crashed'}`} aria-hidden="true" />
      <span data-testid="engine-state">
        {connected ? STATE_TEXT[engine.state] : 'disconnected from server'}
        {engine.restarts > 0 && ` · restarted ${engine.restarts}×`}
      </span>
      <span className="sep" />
      <span title={pack?.dir} data-testid="pack-name">
        pack: <b>{pack?.name ?? '–'}</b>
      </span>
      {onProvider && (
        <label className="small" title="Execution provider to ask for: the engine restarts on it, and falls back to CPU for what it cannot run">
          <select
            value={provider ?? 'auto'}
            aria-label="execution provider"
            data-testid="provider-select"
            onChange={(e) => onProvider(e.currentTarget.value as ProviderChoiceName)}
          >
            {PROVIDER_CHOICES.map((p) => (
              <option key={p} value={p}>
                {p}
              </option>
            ))}
          </select>
        </label>
      )}
      {providers.length > 0 && (
        <span title={providers.map(([model, p]) => `${model}: ${p}`).join('\n')} data-testid="providers">
          {providerSummary(providers)}
          {fallbackNote(provider, providers)}
        </span>
      )}
      {status && (
        <span title={`heap ${formatBytes(status.heapUsedBytes)}`} data-testid="memory">
          mem {formatBytes(status.rssBytes)} (peak {formatBytes(status.peakRssBytes)})
        </span>
      )}
      {showProgress && (
        <span className="progress" data-testid="progress" title={progress.message}>
          {progress.stage} {progress.done}/{progress.total}
          <progress max={progress.total} value={progress.done} />
        </span>
      )}
      <span className="grow" />
      {onRestart && (
        <button type="button" className="link small" onClick={onRestart} title="Kill and restart the engine process" data-testid="restart-engine">
          restart engine
        </button>
      )}
    </footer>
  );
}

/** "cpu ×7" or "unet: cuda · cpu ×6": the full per-model list is in the tooltip. */
export function providerSummary(providers: Array<[string, string]>): string {
  const byProvider = new Map<string, string[]>();
  for (const [model, p] of providers) byProvider.set(p, [...(byProvider.get(p) ?? []), model]);
  const groups = [...byProvider.entries()].sort((a, b) => a[1].length - b[1].length);
  return groups.map(([p, models]) => (models.length === 1 && groups.length > 1 ? `${models[0]}: ${p}` : `${p} ×${models.length}`)).join(' · ');
}

/** " (cuda unavailable: fell back to cpu)" when a provider other than auto/cpu was asked for and no model got it. */
export function fallbackNote(asked: ProviderChoiceName | undefined, providers: Array<[string, string]>): string {
  if (!asked || asked === 'auto' || asked === 'cpu' || !providers.length) return '';
  // the engine names its own fallbacks ("cpu (fell back to cpu: cuda: …)"): no second note
  if (providers.some(([, p]) => p === asked || p.includes('fell back'))) return '';
  return ` (${asked} unavailable: fell back to ${[...new Set(providers.map(([, p]) => p))].join(', ')})`;
}
