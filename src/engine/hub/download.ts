/**
 * One file from the Hub into the cache: resumable, verified, atomic.
 *
 * Why: a 3.4 GB weights.pb over a flaky link must survive a dropped
 * connection and a restart without starting over, must never appear at its
 * final path half-written or corrupted, and must be cancellable. The bytes
 * come through @huggingface/hub's `downloadFile` (which resolves the file and
 * gives a lazily fetched Blob); `blob.slice(offset)` makes it request only
 * the missing range. Bytes are appended to `<path>.part` (see cache.ts), the
 * hash is computed as they arrive (partial bytes are re-hashed on resume),
 * and only a file whose sha256 (LFS) or git blob id matches is renamed into
 * place.
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { downloadFile } from '@huggingface/hub';
import { TwinLensError, throwIfAborted } from '../../shared/errors.js';
import type { FileRecord, HubCache } from './cache.js';
import { type HubTarget, type RemoteFile, repoDesignation } from './remote-files.js';

export interface FileDownloadResult {
  path: string;
  file: string;
  bytes: number;
  /** Bytes that were already on disk from an earlier attempt. */
  resumedFrom: number;
  sha256: string;
  verified: boolean;
}

export interface FileDownloadOptions {
  signal?: AbortSignal;
  /** Called with bytes done (resumed bytes included) as data arrives. */
  onBytes?: (done: number, fresh: number) => void;
  onVerify?: () => void;
  /** Use the Xet protocol when the Hub offers it (default true, as the library does). */
  xet?: boolean;
  /** Give up on a connection that delivers no byte for this long (default 60 s); the next pull resumes. */
  stallTimeoutMs?: number;
}

const DEFAULT_STALL_MS = 60_000;
/** Files this process is downloading now (the lock file covers other processes). */
const downloading = new Set<string>();

/**
 * One writer per partial file: `<part>.lock` holds the owner's pid. Two pulls of the same file
 * (two terminals, the app and the CLI) would otherwise append to one .part and corrupt it. A lock
 * whose process is gone is stale and taken over.
 */
function acquireLock(part: string, file: string): () => void {
  const lock = `${part}.lock`;
  if (downloading.has(part)) throw busy(file, process.pid);
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      fs.writeFileSync(lock, String(process.pid), { flag: 'wx' });
      downloading.add(part);
      return () => {
        downloading.delete(part);
        fs.rmSync(lock, { force: true });
      };
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      const pid = Number(fs.readFileSync(lock, 'utf8'));
      if (Number.isInteger(pid) && pid > 0 && pid !== process.pid && alive(pid)) throw busy(file, pid);
      fs.rmSync(lock, { force: true }); // stale: its process has gone
    }
  }
  throw busy(file, 0);
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function busy(file: string, pid: number): TwinLensError {
  return new TwinLensError(
    'DOWNLOAD_FAILED',
    `${file} is being downloaded by another pull${pid ? ` (process ${pid})` : ''}`,
    'Wait for it to finish (this pull then finds the file in the cache), or stop it',
  );
}

/** Writes a chunk, turning a full disk into a clear, resumable error. */
async function writeChunk(fd: fs.promises.FileHandle, chunk: Uint8Array, file: string, offset: number, size: number): Promise<void> {
  try {
    await fd.write(chunk);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOSPC' || code === 'EDQUOT') {
      throw new TwinLensError(
        'DOWNLOAD_FAILED',
        `The disk is full: ${file} stopped after ${offset} of ${size} bytes`,
        'Free some space (or pull to another --cache-dir) and run the same pull again: it resumes from the partial file',
        { cause: e },
      );
    }
    throw e;
  }
}

/** reader.read(), or a DOWNLOAD_FAILED when nothing arrives for `ms`. */
async function readOrStall<T>(
  reader: ReadableStreamDefaultReader<T>,
  ms: number,
  what: () => string,
): Promise<Awaited<ReturnType<ReadableStreamDefaultReader<T>['read']>>> {
  let timer: NodeJS.Timeout | undefined;
  const stalled = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () =>
        reject(
          new TwinLensError(
            'DOWNLOAD_FAILED',
            `${what()}: no data for ${Math.round(ms / 1000)} s, the connection stalled`,
            'Run the same pull again: it resumes from the partial file',
          ),
        ),
      ms,
    );
  });
  try {
    return await Promise.race([reader.read(), stalled]);
  } finally {
    clearTimeout(timer);
  }
}

/** sha256 and git blob sha1 over a byte stream; the sha1 needs the size up front. */
class Hashes {
  readonly sha256 = createHash('sha256');
  readonly git = createHash('sha1');
  constructor(size: number) {
    this.git.update(`blob ${size}\0`);
  }
  update(b: Uint8Array): void {
    this.sha256.update(b);
    this.git.update(b);
  }
}

async function rehash(file: string, h: Hashes, signal?: AbortSignal): Promise<void> {
  for await (const chunk of fs.createReadStream(file, { highWaterMark: 4 << 20 })) {
    throwIfAborted(signal, 'The download');
    h.update(chunk as Buffer);
  }
}

function cancelled(): TwinLensError {
  return new TwinLensError('CANCELLED', 'The download was cancelled; run the same pull again to resume');
}

export async function downloadToCache(cache: HubCache, target: HubTarget, remote: RemoteFile, o: FileDownloadOptions = {}): Promise<FileDownloadResult> {
  const { repo, revision } = target;
  const finalPath = cache.filePath(repo, revision, remote.path);
  const part = cache.partPath(repo, revision, remote.path);
  const record: FileRecord = {
    repo,
    revision,
    path: remote.path,
    size: remote.size,
    ...(remote.sha256 ? { sha256: remote.sha256 } : {}),
    ...(remote.gitOid ? { gitOid: remote.gitOid } : {}),
  };
  fs.mkdirSync(path.dirname(part), { recursive: true });
  const release = acquireLock(part, remote.path);
  try {
    return await downloadLocked(cache, target, remote, o, record, finalPath, part);
  } finally {
    release();
  }
}

async function downloadLocked(
  cache: HubCache,
  target: HubTarget,
  remote: RemoteFile,
  o: FileDownloadOptions,
  record: FileRecord,
  finalPath: string,
  part: string,
): Promise<FileDownloadResult> {
  const { repo, revision } = target;
  let offset = cache.partialBytes(record);
  const resumedFrom = offset;
  if (offset === 0) cache.discardPartial(repo, revision, remote.path);
  cache.writeMeta(record);

  const hashes = new Hashes(remote.size);
  if (offset > 0) await rehash(part, hashes, o.signal);
  throwIfAborted(o.signal, 'The download');

  if (offset < remote.size) {
    let blob: Blob | null;
    try {
      blob = await downloadFile({
        repo: repoDesignation(repo),
        path: remote.path,
        revision,
        hubUrl: target.endpoint,
        fetch: target.fetch,
        xet: o.xet ?? true,
        ...(target.accessToken ? { accessToken: target.accessToken } : {}),
      });
    } catch (e) {
      if (o.signal?.aborted) throw cancelled();
      throw new TwinLensError('DOWNLOAD_FAILED', `Downloading ${remote.path} failed: ${(e as Error).message}`, `Check ${target.endpoint} and the network`, {
        cause: e,
      });
    }
    if (!blob) throw new TwinLensError('PACK_FILE_MISSING', `${repo}@${revision} has no ${remote.path}`);
    if (blob.size !== remote.size) {
      throw new TwinLensError(
        'PACK_HASH_MISMATCH',
        `${remote.path}: the Hub reports ${remote.size} bytes in the listing but ${blob.size} for the download`,
        'The revision changed while pulling; run the pull again',
      );
    }
    const fd = await fs.promises.open(part, offset > 0 ? 'a' : 'w');
    try {
      const reader = (offset > 0 ? blob.slice(offset) : blob).stream().getReader();
      for (;;) {
        let r: Awaited<ReturnType<typeof reader.read>>;
        try {
          r = await readOrStall(reader, o.stallTimeoutMs ?? DEFAULT_STALL_MS, () => `${remote.path} (${offset} of ${remote.size} bytes)`);
        } catch (e) {
          if (o.signal?.aborted) throw cancelled();
          if (e instanceof TwinLensError) {
            await reader.cancel().catch(() => undefined);
            throw e;
          }
          throw new TwinLensError(
            'DOWNLOAD_FAILED',
            `${remote.path}: the connection failed after ${offset} of ${remote.size} bytes (${(e as Error).message ?? String(e)})`,
            'Run the same pull again: it resumes from the partial file',
          );
        }
        if (r.done) break;
        const chunk = r.value;
        if (offset + chunk.length > remote.size) {
          await reader.cancel().catch(() => undefined);
          throw new TwinLensError(
            'PACK_HASH_MISMATCH',
            `${remote.path}: the server sent more than ${remote.size} bytes`,
            'The server may not support range requests; delete the partial file and retry',
          );
        }
        await writeChunk(fd, chunk, remote.path, offset, remote.size);
        hashes.update(chunk);
        offset += chunk.length;
        o.onBytes?.(offset, chunk.length);
        if (o.signal?.aborted) {
          await reader.cancel().catch(() => undefined);
          throw cancelled();
        }
      }
      await fd.sync();
    } finally {
      await fd.close();
    }
    if (offset !== remote.size) {
      throw new TwinLensError(
        'DOWNLOAD_FAILED',
        `${remote.path}: the connection closed after ${offset} of ${remote.size} bytes`,
        'Run the same pull again: it resumes from the partial file',
      );
    }
  }

  o.onVerify?.();
  const sha256 = hashes.sha256.digest('hex');
  const gitOid = hashes.git.digest('hex');
  const expected = remote.sha256
    ? { kind: 'sha256', want: remote.sha256, got: sha256 }
    : remote.gitOid
      ? { kind: 'git blob id', want: remote.gitOid, got: gitOid }
      : undefined;
  if (expected && expected.want.toLowerCase() !== expected.got) {
    cache.discardPartial(repo, revision, remote.path);
    throw new TwinLensError(
      'PACK_HASH_MISMATCH',
      `${remote.path}: ${expected.kind} ${expected.got.slice(0, 12)}… does not match the expected ${expected.want.slice(0, 12)}…; the corrupt download was deleted`,
      'Run the pull again; if it repeats, the mirror serves a different file than the Hub lists',
    );
  }
  fs.mkdirSync(path.dirname(finalPath), { recursive: true });
  fs.renameSync(part, finalPath);
  cache.writeMeta({ ...record, sha256, verifiedAt: new Date().toISOString(), verified: !!expected });
  return { path: remote.path, file: finalPath, bytes: remote.size, resumedFrom, sha256, verified: !!expected };
}
