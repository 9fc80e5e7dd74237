/**
 * Export files that are safe to resume: every file is written to a temporary
 * name in the same folder and renamed into place (a crash never leaves a
 * half-written file under the final name), and each group of files (one
 * tap at one t, the cross-attention maps, CLIP patches, a sheet) ends with a
 * JSON sidecar written last. The sidecar records how the files were made —
 * image hash, pack, tap, t, guidance, prompt, seed — and each file's size
 * and SHA-256. A group is complete when its sidecar exists, was made by the
 * same request, covers the requested formats, and its files are all there
 * with the recorded sizes; complete groups are skipped on the next run.
 */
import { createHash, randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { TwinLensError } from '../../shared/errors.js';

import type { ExportFileKind } from '../../shared/export-formats.js';

export { EXPORT_FORMATS, type ExportFormat } from '../../shared/export-formats.js';

export interface FileRecord {
  /** File name, relative to the sidecar's folder. */
  name: string;
  format: ExportFileKind;
  bytes: number;
  sha256: string;
}

/** What a group of files was made from; two runs with equal keys make equal files. */
export type RequestKey = Record<string, string | number | boolean | null | string[] | number[]>;

export interface SidecarBody {
  kind: 'tap' | 'cross-attention' | 'clip' | 'sheet' | 'pair';
  request: RequestKey;
  /** Everything else worth keeping (shapes, tokens, layers, PCA variance, regenerate command…). */
  [extra: string]: unknown;
}

export interface Sidecar extends SidecarBody {
  format: 'twinlens-export';
  version: 1;
  files: FileRecord[];
}

export const SIDECAR_FORMAT = 'twinlens-export';

export function sha256(data: Buffer | string): string {
  return createHash('sha256').update(data).digest('hex');
}

/** Write via a temporary file in the same folder and rename (atomic on one filesystem). */
export function writeAtomic(file: string, data: Buffer | string): void {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const tmp = path.join(path.dirname(file), `.${path.basename(file)}.${process.pid}-${randomBytes(4).toString('hex')}.tmp`);
  try {
    fs.writeFileSync(tmp, data);
    fs.renameSync(tmp, file);
  } catch (e) {
    fs.rmSync(tmp, { force: true });
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOSPC' || code === 'EDQUOT') {
      throw new TwinLensError(
        'DISK_FULL',
        `The disk is full: could not write ${path.basename(file)} in ${path.dirname(file)}`,
        'Free some space or export to another folder, then run the same export again: finished files are kept and skipped',
      );
    }
    throw e;
  }
}

/** Where a group's files go instead of the disk (the engine returning files for download). */
export type FileSink = (file: string, data: Buffer | string) => void;

/** Collects the files of one group as they are written (atomically to disk, or to a sink). */
export class GroupWriter {
  readonly files: FileRecord[] = [];
  private sidecar?: string;

  constructor(
    readonly dir: string,
    private sink?: FileSink,
  ) {}

  private put(file: string, data: Buffer | string): void {
    if (this.sink) this.sink(file, data);
    else writeAtomic(file, data);
  }

  write(name: string, format: FileRecord['format'], data: Buffer | string): string {
    const file = path.join(this.dir, name);
    this.put(file, data);
    const bytes = typeof data === 'string' ? Buffer.byteLength(data) : data.length;
    this.files.push({ name, format, bytes, sha256: sha256(data) });
    return file;
  }

  /** Write the sidecar last; its presence marks the group complete. */
  finish(sidecarName: string, sidecar: SidecarBody): string {
    const full: Sidecar = { format: SIDECAR_FORMAT, version: 1, ...sidecar, files: this.files };
    const file = path.join(this.dir, sidecarName);
    this.put(file, `${JSON.stringify(full, null, 2)}\n`);
    this.sidecar = file;
    return file;
  }

  /** Every file written, the sidecar last. */
  paths(): string[] {
    return [...this.files.map((f) => path.join(this.dir, f.name)), ...(this.sidecar ? [this.sidecar] : [])];
  }
}

export function readSidecar(file: string): Sidecar | undefined {
  try {
    const s = JSON.parse(fs.readFileSync(file, 'utf8')) as Sidecar;
    return s && s.format === SIDECAR_FORMAT && Array.isArray(s.files) ? s : undefined;
  } catch {
    return undefined;
  }
}

function sameKey(a: RequestKey, b: RequestKey): boolean {
  return JSON.stringify(Object.entries(a).sort(([x], [y]) => x.localeCompare(y))) === JSON.stringify(Object.entries(b).sort(([x], [y]) => x.localeCompare(y)));
}

export interface CompleteCheck {
  request: RequestKey;
  /** Formats the group must contain (formats the group never writes are left out by the caller). */
  formats: readonly FileRecord['format'][];
  /** Also verify contents against the recorded SHA-256 (slower). */
  verifyHashes?: boolean;
}

/** The sidecar of a complete group made by this request, or undefined. */
export function completeGroup(sidecarFile: string, check: CompleteCheck): Sidecar | undefined {
  const s = readSidecar(sidecarFile);
  if (!s || !sameKey(s.request, check.request)) return undefined;
  // An empty group (nothing to write, e.g. a UNet without cross-attention maps) is complete as recorded.
  if (s.empty !== true) for (const f of check.formats) if (!s.files.some((r) => r.format === f)) return undefined;
  const dir = path.dirname(sidecarFile);
  for (const r of s.files) {
    const file = path.join(dir, r.name);
    let size: number;
    try {
      size = fs.statSync(file).size;
    } catch {
      return undefined;
    }
    if (size !== r.bytes) return undefined;
    if (check.verifyHashes && sha256(fs.readFileSync(file)) !== r.sha256) return undefined;
  }
  return s;
}

/** A file-name-safe form of a tap alias, token or image stem. */
export function safeName(s: string): string {
  return s.replace(/[^A-Za-z0-9._-]+/g, '_').replace(/^[._]+|_+$/g, '') || 'x';
}
