/**
 * The model manager's one operation: pull a repository's files into the
 * shared cache, with progress, resume, verification, a disk-space check and
 * cancellation.
 *
 * Why a separate step: TwinLens is offline-first. Nothing in the engine or
 * the importers touches the network; only an explicit pull does, against the
 * endpoint the user names (a mirror, or a local server in tests). Order:
 * list files and hashes → skip what the cache already verified → check free
 * space for what is left → download file by file. The fetch handed to
 * @huggingface/hub carries the AbortSignal and turns a server that ignores
 * Range (200 instead of 206) into the bytes asked for, so resume never
 * appends a whole file to a partial one.
 */
import * as fs from 'node:fs';
import { TwinLensError, throwIfAborted } from '../../shared/errors.js';
import { HubCache } from './cache.js';
import { type FileDownloadResult, downloadToCache } from './download.js';
import { RateMeter, etaSeconds, formatSize, type ProgressEvent } from './progress.js';
import { type HubTarget, type RemoteFile, resolveRemoteFiles } from './remote-files.js';

export const DEFAULT_ENDPOINT = 'https://huggingface.co';

export interface PullOptions {
  repo: string;
  files: string[];
  revision?: string;
  /** Hub or mirror base URL (default HF_ENDPOINT, else huggingface.co). */
  endpoint?: string;
  cacheDir: string;
  accessToken?: string;
  /** sha256 per path, overriding or completing the Hub's hashes. */
  checksums?: Map<string, string>;
  signal?: AbortSignal;
  onProgress?: (e: ProgressEvent) => void;
  /** Free bytes on the cache's file system (test seam; default fs.statfs). */
  freeSpace?: (dir: string) => Promise<number>;
  /** Extra room to keep free, in bytes (default 256 MiB). */
  reserveBytes?: number;
  /** Base fetch (test seam; default globalThis.fetch). */
  fetch?: typeof fetch;
  xet?: boolean;
  /** Give up on a connection that delivers nothing for this long (default 60 s); the next pull resumes. */
  stallTimeoutMs?: number;
}

export interface PullResult {
  repo: string;
  revision: string;
  endpoint: string;
  snapshot: string;
  files: Array<FileDownloadResult & { cached: boolean }>;
  downloadedBytes: number;
}

export async function statfsFree(dir: string): Promise<number> {
  const s = await fs.promises.statfs(dir);
  return Number(s.bavail) * Number(s.bsize);
}

function rangeStart(init: RequestInit | undefined): number {
  const h = new Headers(init?.headers);
  const m = /^bytes=(\d+)-/.exec(h.get('Range') ?? '');
  return m ? Number(m[1]) : 0;
}

/** Skips the first `n` bytes of a body stream. */
function skipBytes(body: ReadableStream<Uint8Array>, n: number): ReadableStream<Uint8Array> {
  let left = n;
  return body.pipeThrough(
    new TransformStream<Uint8Array, Uint8Array>({
      transform(chunk, ctl) {
        if (left >= chunk.length) {
          left -= chunk.length;
          return;
        }
        ctl.enqueue(left > 0 ? chunk.subarray(left) : chunk);
        left = 0;
      },
    }),
  );
}

/**
 * fetch with the pull's AbortSignal, and a 206-equivalent answer from servers that ignore Range.
 * Not for the Xet reconstruction call: its Range names the file bytes wanted and it answers 200 with
 * JSON, which skipping would empty (every resumed Xet download failed with "Unexpected end of JSON input").
 */
export function pullFetch(base: typeof fetch, signal?: AbortSignal): typeof fetch {
  return async (input: Parameters<typeof fetch>[0], init?: RequestInit): Promise<Response> => {
    const res = await base(input, { ...init, ...(signal ? { signal } : {}) });
    const start = rangeStart(init);
    const url = typeof input === 'string' ? input : input instanceof URL ? input.href : input.url;
    const metadata = /json/i.test(res.headers.get('content-type') ?? '') || /\/reconstructions\//.test(url);
    if (start > 0 && res.status === 200 && res.body && !metadata) {
      return new Response(skipBytes(res.body, start), { status: 206, headers: res.headers });
    }
    return res;
  };
}

export async function pull(o: PullOptions): Promise<PullResult> {
  if (process.env.TWINLENS_OFFLINE === '1') {
    throw new TwinLensError('INVALID_ARGUMENT', 'TWINLENS_OFFLINE=1 forbids network access', 'Unset TWINLENS_OFFLINE to pull models');
  }
  if (!o.files.length) throw new TwinLensError('INVALID_ARGUMENT', 'No files to pull', 'Pass --files a,b (patterns such as unet/* are allowed)');
  const endpoint = (o.endpoint ?? process.env.HF_ENDPOINT ?? DEFAULT_ENDPOINT).replace(/\/+$/, '');
  const revision = o.revision ?? 'main';
  const target: HubTarget = {
    repo: o.repo,
    revision,
    endpoint,
    fetch: pullFetch(o.fetch ?? globalThis.fetch, o.signal),
    ...(o.accessToken ? { accessToken: o.accessToken } : {}),
  };
  const cache = new HubCache(o.cacheDir);
  throwIfAborted(o.signal, 'The pull');
  let remote: RemoteFile[];
  try {
    remote = await resolveRemoteFiles(target, o.files, o.checksums);
  } catch (e) {
    if (o.signal?.aborted) throw new TwinLensError('CANCELLED', 'The pull was cancelled');
    throw e;
  }
  const key = (f: RemoteFile) => ({ repo: o.repo, revision, path: f.path, size: f.size, sha256: f.sha256, gitOid: f.gitOid });
  const cached = new Set(remote.filter((f) => cache.isCached(key(f))).map((f) => f.path));
  const partial = new Map(remote.map((f) => [f.path, cached.has(f.path) ? f.size : cache.partialBytes(key(f))]));
  const total = remote.reduce((a, f) => a + f.size, 0);
  const needed = remote.reduce((a, f) => a + (f.size - partial.get(f.path)!), 0);

  fs.mkdirSync(o.cacheDir, { recursive: true });
  const free = await (o.freeSpace ?? statfsFree)(o.cacheDir);
  const reserve = o.reserveBytes ?? 256 * 2 ** 20;
  if (needed + reserve > free) {
    const gb = formatSize;
    throw new TwinLensError(
      'DOWNLOAD_FAILED',
      `Not enough disk space in ${o.cacheDir}: ${gb(needed)} to download (+${gb(reserve)} reserve), ${gb(free)} free`,
      'Free some space or pass --cache on a bigger disk',
    );
  }

  const meter = new RateMeter();
  let done = [...partial.values()].reduce((a, b) => a + b, 0);
  const results: PullResult['files'] = [];
  let downloadedBytes = 0;
  for (const [i, f] of remote.entries()) {
    const base = { file: f.path, fileIndex: i, fileCount: remote.length, fileBytes: f.size, total };
    if (cached.has(f.path)) {
      results.push({
        path: f.path,
        file: cache.filePath(o.repo, revision, f.path),
        bytes: f.size,
        resumedFrom: f.size,
        sha256: cache.readMeta(o.repo, revision, f.path)?.sha256 ?? '',
        verified: true,
        cached: true,
      });
      o.onProgress?.({ ...base, bytes: f.size, totalDone: done, speed: meter.bytesPerSecond, phase: 'cached' });
      continue;
    }
    const before = partial.get(f.path)!;
    meter.pause();
    const r = await downloadToCache(cache, target, f, {
      signal: o.signal,
      xet: o.xet,
      stallTimeoutMs: o.stallTimeoutMs,
      onBytes: (bytes, fresh) => {
        done += fresh;
        downloadedBytes += fresh;
        const speed = meter.add(fresh);
        o.onProgress?.({ ...base, bytes, totalDone: done, speed, etaSeconds: etaSeconds(total - done, speed), phase: 'download' });
      },
      onVerify: () => o.onProgress?.({ ...base, bytes: f.size, totalDone: done, speed: meter.bytesPerSecond, phase: 'verify' }),
    });
    if (r.resumedFrom !== before) done += r.resumedFrom - before;
    results.push({ ...r, cached: false });
    o.onProgress?.({
      ...base,
      bytes: f.size,
      totalDone: done,
      speed: meter.bytesPerSecond,
      etaSeconds: etaSeconds(total - done, meter.bytesPerSecond),
      phase: 'done',
    });
  }
  return { repo: o.repo, revision, endpoint, snapshot: cache.snapshotDir(o.repo, revision), files: results, downloadedBytes };
}
