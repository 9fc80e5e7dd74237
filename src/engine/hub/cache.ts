/**
 * The model cache shared by every pack: where pulled files, their partial
 * downloads and their verification records live.
 *
 * Why: several packs reuse the same SD export or LLM, and a resumed download
 * must find its partial bytes after a restart. Layout, per repository and
 * revision:
 *   <cache>/<owner>--<name>/<revision>/<path>              complete, verified files
 *   <cache>/<owner>--<name>/.partial/<revision>/<path>.part bytes so far
 *   <cache>/<owner>--<name>/.meta/<revision>/<path>.json   what was verified / expected
 * The snapshot folder holds only real files, so it can be passed straight to
 * `twinlens packs import --sd …`, which hard-links from it (same disk, no
 * extra space). A file appears at its final path only by an atomic rename
 * after its hash matched.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { TwinLensError } from '../../shared/errors.js';

export interface FileRecord {
  repo: string;
  revision: string;
  path: string;
  size: number;
  sha256?: string;
  gitOid?: string;
  etag?: string;
  /** ISO time the file was verified and moved into place. */
  verifiedAt?: string;
  /** false when the Hub gave no hash and none was supplied. */
  verified?: boolean;
}

export function defaultCacheDir(): string {
  return process.env.TWINLENS_CACHE ?? path.join(process.env.XDG_CACHE_HOME ?? path.join(os.homedir(), '.cache'), 'twinlens', 'hub');
}

function safeRel(p: string): string {
  const norm = path.posix.normalize(p.replace(/\\/g, '/'));
  if (norm.startsWith('../') || norm === '..' || path.posix.isAbsolute(norm)) {
    throw new TwinLensError('PACK_PATH_ESCAPE', `Remote path "${p}" would leave the cache folder`);
  }
  return norm;
}

export class HubCache {
  constructor(readonly root: string) {}

  repoDir(repo: string): string {
    return path.join(this.root, repo.replace(/^(models|datasets|spaces)\//, '').replace('/', '--'));
  }

  snapshotDir(repo: string, revision: string): string {
    return path.join(this.repoDir(repo), safeRel(revision));
  }

  filePath(repo: string, revision: string, p: string): string {
    return path.join(this.snapshotDir(repo, revision), safeRel(p));
  }

  partPath(repo: string, revision: string, p: string): string {
    return path.join(this.repoDir(repo), '.partial', safeRel(revision), `${safeRel(p)}.part`);
  }

  metaPath(repo: string, revision: string, p: string): string {
    return path.join(this.repoDir(repo), '.meta', safeRel(revision), `${safeRel(p)}.json`);
  }

  readMeta(repo: string, revision: string, p: string): FileRecord | undefined {
    try {
      return JSON.parse(fs.readFileSync(this.metaPath(repo, revision, p), 'utf8')) as FileRecord;
    } catch {
      return undefined;
    }
  }

  writeMeta(rec: FileRecord): void {
    const file = this.metaPath(rec.repo, rec.revision, rec.path);
    fs.mkdirSync(path.dirname(file), { recursive: true });
    const tmp = `${file}.tmp-${process.pid}`;
    fs.writeFileSync(tmp, `${JSON.stringify(rec, null, 2)}\n`);
    fs.renameSync(tmp, file);
  }

  /** A complete file whose recorded hash (and size) match what is wanted now. */
  isCached(rec: Pick<FileRecord, 'repo' | 'revision' | 'path' | 'size' | 'sha256' | 'gitOid'>): boolean {
    const meta = this.readMeta(rec.repo, rec.revision, rec.path);
    if (!meta?.verifiedAt) return false;
    let size: number;
    try {
      size = fs.statSync(this.filePath(rec.repo, rec.revision, rec.path)).size;
    } catch {
      return false;
    }
    if (size !== rec.size || meta.size !== rec.size) return false;
    if (rec.sha256 && meta.sha256 !== rec.sha256) return false;
    if (!rec.sha256 && rec.gitOid && meta.gitOid !== rec.gitOid) return false;
    return true;
  }

  /** Bytes of a resumable partial download, 0 when none or when it belongs to other content. */
  partialBytes(rec: Pick<FileRecord, 'repo' | 'revision' | 'path' | 'size' | 'sha256' | 'gitOid'>): number {
    const meta = this.readMeta(rec.repo, rec.revision, rec.path);
    if (!meta || meta.verifiedAt || meta.size !== rec.size || meta.sha256 !== rec.sha256 || meta.gitOid !== rec.gitOid) return 0;
    try {
      const n = fs.statSync(this.partPath(rec.repo, rec.revision, rec.path)).size;
      return n <= rec.size ? n : 0;
    } catch {
      return 0;
    }
  }

  discardPartial(repo: string, revision: string, p: string): void {
    fs.rmSync(this.partPath(repo, revision, p), { force: true });
  }
}
