/**
 * The contract's `listCatalog` and `downloadModel` (Models → Get models):
 * the catalog of tested public exports, and one entry pulled into the hub
 * cache with progress events, cancellation (the partial file stays; the next
 * download resumes from it, also after a restart) and verification, through
 * the same `pull` as `twinlens pull`. The endpoint is the engine's
 * ($HF_ENDPOINT, else the Hub): a caller cannot point the engine at another
 * server. Composed packs go to <cache>/../packs.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { BUILTIN_CATALOG, type CatalogEntry } from '../../shared/catalog.js';
import type { CatalogList, DownloadModelResult, EngineEvent } from '../../shared/contract.js';
import { TwinLensError } from '../../shared/errors.js';
import { defaultCacheDir } from './cache.js';
import { formatDuration, formatRate, formatSize } from './progress.js';
import { pull, statfsFree } from './pull.js';

/** The built-in catalog, or the JSON array in $TWINLENS_CATALOG (a mirror's, or a test's). */
export function catalogEntries(): CatalogEntry[] {
  const file = process.env.TWINLENS_CATALOG;
  if (!file) return BUILTIN_CATALOG;
  let list: unknown;
  try {
    list = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (e) {
    throw new TwinLensError('INVALID_ARGUMENT', `TWINLENS_CATALOG ${file} is not readable JSON: ${(e as Error).message}`, 'Fix or unset TWINLENS_CATALOG');
  }
  const ok = (x: unknown): x is CatalogEntry => {
    const e = x as Partial<CatalogEntry>;
    return !!e && typeof e.id === 'string' && typeof e.repo === 'string' && Array.isArray(e.files) && ['sd', 'clip', 'llm'].includes(String(e.role));
  };
  if (!Array.isArray(list) || !list.every(ok))
    throw new TwinLensError('INVALID_ARGUMENT', `TWINLENS_CATALOG ${file} must be an array of {id, role, repo, files, …}`, 'See src/shared/catalog.ts');
  return list.map((e) => ({ ...e, title: e.title ?? e.id, bytes: e.bytes ?? 0, adds: e.adds ?? '' }));
}

export function packsDir(cacheDir = defaultCacheDir()): string {
  return path.join(path.dirname(cacheDir), 'packs');
}

export async function listCatalog(): Promise<CatalogList> {
  const cacheDir = defaultCacheDir();
  fs.mkdirSync(cacheDir, { recursive: true });
  return { entries: catalogEntries(), cacheDir, packsDir: packsDir(cacheDir), freeBytes: await statfsFree(cacheDir) };
}

export async function downloadModel(id: string, ctx: { signal?: AbortSignal; emit?: (e: EngineEvent) => void } = {}): Promise<DownloadModelResult> {
  const entry = catalogEntries().find((e) => e.id === id);
  if (!entry)
    throw new TwinLensError(
      'INVALID_ARGUMENT',
      `No catalog entry "${id}"`,
      `Known: ${catalogEntries()
        .map((e) => e.id)
        .join(', ')}`,
    );
  const r = await pull({
    repo: entry.repo,
    files: entry.files,
    revision: entry.revision,
    cacheDir: defaultCacheDir(),
    signal: ctx.signal,
    onProgress: (p) =>
      ctx.emit?.({
        type: 'progress',
        stage: 'download',
        done: p.totalDone,
        total: p.total,
        message: `${p.file} (${p.fileIndex + 1}/${p.fileCount}) · ${formatSize(p.totalDone)} of ${formatSize(p.total)}${
          p.speed ? ` · ${formatRate(p.speed)}` : ''
        }${p.etaSeconds !== undefined ? ` · ${formatDuration(p.etaSeconds)} left` : ''}${p.phase === 'verify' ? ' · verifying' : ''}`,
      }),
  });
  return {
    id,
    folder: path.join(r.snapshot, entry.folder ?? ''),
    bytes: r.files.reduce((a, f) => a + f.bytes, 0),
    downloadedBytes: r.downloadedBytes,
  };
}
