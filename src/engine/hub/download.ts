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
  const record: FileRecord = { repo, revision, path: remote.path, size: remote.size, ...(remote.sha256 ? { sha256: remote.sha256 } : {}), ...(remote.gitOid ? { gitOid: remote.gitOid } : {}) };
  let offset = cache.partialBytes(record);
  const resumedFrom = offset;
  if (offset === 0) cache.discardPartial(repo, revision, remote.path);
  fs.mkdirSync(path.dirname(part), { recursive: true });
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
      throw new TwinLensError('DOWNLOAD_FAILED', `Downloading ${remote.path} failed: ${(e as Error).message}`, `Check ${target.endpoint} and the network`, { cause: e });
    }
    if (!blob) throw new TwinLensError('PACK_FILE_MISSING', `${repo}@${revision} has no ${remote.path}`);
    if (blob.size !== remote.size) {
      throw new TwinLensError('PACK_HASH_MISMATCH', `${remote.path}: the Hub reports ${remote.size} bytes in the listing but ${blob.size} for the download`, 'The revision changed while pulling; run the pull again');
    }
    const fd = await fs.promises.open(part, offset > 0 ? 'a' : 'w');
    try {
      const reader = (offset > 0 ? blob.slice(offset) : blob).stream().getReader();
      for (;;) {
        let r: Awaited<ReturnType<typeof reader.read>>;
        try {
          r = await reader.read();
        } catch (e) {
          if (o.signal?.aborted) throw cancelled();
          throw new TwinLensError('DOWNLOAD_FAILED', `${remote.path}: the connection failed after ${offset} of ${remote.size} bytes (${(e as Error).message ?? String(e)})`, 'Run the same pull again: it resumes from the partial file');
        }
        if (r.done) break;
        const chunk = r.value;
        if (offset + chunk.length > remote.size) {
          await reader.cancel().catch(() => undefined);
          throw new TwinLensError('PACK_HASH_MISMATCH', `${remote.path}: the server sent more than ${remote.size} bytes`, 'The server may not support range requests; delete the partial file and retry');
        }
        await fd.write(chunk);
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
      throw new TwinLensError('DOWNLOAD_FAILED', `${remote.path}: the connection closed after ${offset} of ${remote.size} bytes`, 'Run the same pull again: it resumes from the partial file');
    }
  }

  o.onVerify?.();
  const sha256 = hashes.sha256.digest('hex');
  const gitOid = hashes.git.digest('hex');
  const expected = remote.sha256 ? { kind: 'sha256', want: remote.sha256, got: sha256 } : remote.gitOid ? { kind: 'git blob id', want: remote.gitOid, got: gitOid } : undefined;
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
