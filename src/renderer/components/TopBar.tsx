/**
 * The title bar of the workbench: open a pack by folder path (the host's
 * file system: the server's in web mode), export what was asked, switch the
 * theme. Opening images lives in the image pane; the Electron menu mirrors
 * these commands with shortcuts.
 */
import { type ReactNode, useState } from 'react';
import type { RecentPackView } from '../state/recent-packs.js';
import type { ThemeName } from '../state/settings.js';

interface Props {
  theme: ThemeName;
  onTheme(t: ThemeName): void;
  onExport(): void;
  /** The current question's answers and settings as a Markdown table. */
  onExportMarkdown?(): void;
  canExport: boolean;
  canOpenPack: boolean;
  onOpenPack(dir: string): void;
  /** Desktop: choose the pack folder in the system dialog instead of typing it. */
  onBrowsePack?: () => void;
  showAttention: boolean;
  onShowAttention(v: boolean): void;
  showExtraModes: boolean;
  onShowExtraModes(v: boolean): void;
  hostKind: 'electron' | 'web';
  /** The view tabs, shown after the brand. */
  tabs?: ReactNode;
  /** Recently opened packs (newest first); those whose check failed are shown greyed with the reason. */
  recent?: RecentPackView[];
  /** Called when the pack popover opens, so the recent list can be checked against the host's disk. */
  onPackMenu?(): void;
  onForgetRecent?(dir: string): void;
}

export function TopBar(p: Props) {
  const [packOpen, setPackOpen] = useState(false);
  const [dir, setDir] = useState('');
  return (
    <header className="top-bar">
      <span className="brand">
        Twin<b>Lens</b>
      </span>
      {p.tabs}
      <span className="muted small tagline">CLIP · diffusion · fused, side by side</span>
      <span className="grow" />
      <label className="toggle small" title="Fetch per-word cross-attention maps after each question">
        <input type="checkbox" checked={p.showAttention} onChange={(e) => p.onShowAttention(e.currentTarget.checked)} /> attention
      </label>
      <label className="toggle small" title="Also show the pack's extra modes (e.g. concat fusion)">
        <input type="checkbox" checked={p.showExtraModes} onChange={(e) => p.onShowExtraModes(e.currentTarget.checked)} /> extra modes
      </label>
      {p.canOpenPack && (
        <span className="pack-open">
          <button
            type="button"
            onClick={() => {
              if (!packOpen) p.onPackMenu?.();
              setPackOpen((v) => !v);
            }}
            aria-expanded={packOpen}
            aria-haspopup="dialog"
            data-testid="open-pack"
          >
            Open pack…
          </button>
          {packOpen && (
            <form
              className="popover"
              aria-label="Open a model pack"
              onKeyDown={(e) => {
                if (e.key === 'Escape') setPackOpen(false);
              }}
              onSubmit={(e) => {
                e.preventDefault();
                if (dir.trim()) p.onOpenPack(dir.trim());
                setPackOpen(false);
              }}
            >
              {!!p.recent?.length && (
                <ul className="recent-packs" aria-label="Recent packs" data-testid="recent-packs">
                  {p.recent.map((r) => (
                    <li key={r.dir} data-ok={r.ok === false ? 'no' : 'yes'}>
                      <button
                        type="button"
                        className="recent-pack"
                        disabled={r.ok === false}
                        title={r.ok === false ? `${r.dir}: ${r.reason ?? 'not a pack any more'}` : r.dir}
                        onClick={() => {
                          p.onOpenPack(r.dir);
                          setPackOpen(false);
                        }}
                      >
                        <b>{r.name}</b> <span className="muted small">{r.dir}</span>
                      </button>
                      {r.ok === false && <span className="small recent-reason">{r.reason ?? 'not a pack any more'}</span>}
                      {p.onForgetRecent && (
                        <button
                          type="button"
                          className="small"
                          aria-label={`Forget ${r.name} (${r.dir})`}
                          title="Remove from this list"
                          onClick={() => p.onForgetRecent?.(r.dir)}
                        >
                          ×
                        </button>
                      )}
                    </li>
                  ))}
                </ul>
              )}
              {p.onBrowsePack ? (
                <button
                  type="button"
                  className="primary"
                  onClick={() => {
                    setPackOpen(false);
                    p.onBrowsePack?.();
                  }}
                >
                  Browse for a pack folder…
                </button>
              ) : (
                <>
                  <label className="small">
                    Pack folder {p.hostKind === 'web' ? 'on the server' : ''}
                    <input autoFocus type="text" value={dir} onChange={(e) => setDir(e.currentTarget.value)} placeholder="/path/to/pack (contains pack.json)" />
                  </label>
                  <button type="submit" className="primary">
                    Open
                  </button>
                </>
              )}
            </form>
          )}
        </span>
      )}
      <button type="button" onClick={p.onExport} disabled={!p.canExport} title="Save the answers and history of this image as JSON" data-testid="export">
        Export
      </button>
      {p.onExportMarkdown && (
        <button
          type="button"
          onClick={p.onExportMarkdown}
          disabled={!p.canExport}
          title="Save this question's answers side by side, with their settings, as Markdown"
          data-testid="export-md"
        >
          MD
        </button>
      )}
      <button
        type="button"
        onClick={() => p.onTheme(p.theme === 'dark' ? 'light' : 'dark')}
        title="Switch between light and dark"
        aria-label={`Switch to ${p.theme === 'dark' ? 'light' : 'dark'} theme`}
        data-testid="theme-toggle"
      >
        {p.theme === 'dark' ? '☀ light' : '☾ dark'}
      </button>
    </header>
  );
}
