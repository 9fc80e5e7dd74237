/**
 * Where edited graphs live, how they are named, written and cleaned up.
 *
 * An edited UNet must sit in the same folder as the original: its initializers
 * point at external data (`weights.pb`, `model.onnx_data`) by paths relative to
 * the model file, and copying multi-GB weights is not an option. The name
 * `<basename>.twinlens-<16 hex>.onnx` carries a hash of the original bytes and
 * the request, so an unchanged request finds its earlier result and a changed
 * model never reuses a stale one. Files are written to a temporary name and
 * renamed, so a crash never leaves a half-written graph under the final name.
 * A read-only pack folder (a packaged app's resources, a pack unpacked by
 * another user) falls back to a cache folder. A model with inline weights is
 * written there as is; one whose weights are external data goes into its own
 * subfolder beside hard links to those weight files (a copy when they are
 * small and on another disk), so the relative locations resolve without
 * copying gigabytes.
 */
import { createHash, randomBytes } from 'node:crypto';
import { copyFile, link, mkdir, open, readdir, rename, stat, unlink } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { TwinLensError } from '../../shared/errors.js';
import { userCacheDir } from '../util/cache-dir.js';
import type { ByteChunks } from './proto-fields.js';

/**
 * The user's cache folder for edited graphs: $TWINLENS_GRAPH_CACHE, else the platform's cache
 * folder (XDG_CACHE_HOME or ~/.cache, ~/Library/Caches, %LOCALAPPDATA%) + twinlens/graphs.
 */
export function defaultGraphCacheDir(): string {
  return process.env.TWINLENS_GRAPH_CACHE ?? userCacheDir('graphs');
}

/** Matches the file names this module writes (and their temporaries). */
export const EDITED_GRAPH_RE = /\.twinlens-[0-9a-f]{16}\.onnx(\.tmp-[0-9a-z-]+)?$/;

/** 16 hex digits of sha256(original bytes ‖ canonical request). */
export function editKey(original: Uint8Array, request: unknown): string {
  return createHash('sha256').update(original).update(JSON.stringify(request)).digest('hex').slice(0, 16);
}

/** `unet/model.onnx` + key → `model.twinlens-<key>.onnx`. */
export function editedGraphName(modelPath: string, key: string): string {
  return `${basename(modelPath).replace(/\.onnx$/i, '')}.twinlens-${key}.onnx`;
}

export interface StoreRequest {
  modelPath: string;
  key: string;
  /** Fallback folder for a read-only model folder (inline-weight models only). */
  cacheDir?: string;
  usesExternalData: boolean;
  externalDataFiles: string[];
}

/** Writes bytes to a path; swappable so tests can simulate a read-only folder. */
export interface EditCacheIo {
  writeAtomic(path: string, chunks: ByteChunks): Promise<void>;
}

export const defaultEditCacheIo: EditCacheIo = { writeAtomic };

const READ_ONLY_CODES = new Set(['EACCES', 'EPERM', 'EROFS']);

/**
 * Returns an existing edited graph of the expected size, or writes a new one:
 * beside the model when the folder is writable, else in `cacheDir`.
 */
export async function storeEditedGraph(
  chunks: ByteChunks,
  req: StoreRequest,
  io: EditCacheIo = defaultEditCacheIo,
): Promise<{ path: string; reused: boolean }> {
  const name = editedGraphName(req.modelPath, req.key);
  const besideModel = join(dirname(req.modelPath), name);
  // external data: a folder per edited graph, holding it and links to the weights it names
  const cacheFolder = req.cacheDir && req.usesExternalData ? join(req.cacheDir, name.replace(/\.onnx$/, '')) : req.cacheDir;
  const inCache = cacheFolder ? join(cacheFolder, name) : undefined;
  for (const candidate of [besideModel, inCache]) {
    if (candidate && (await sizeOf(candidate)) === chunks.length) return { path: candidate, reused: true };
  }
  try {
    await io.writeAtomic(besideModel, chunks);
    return { path: besideModel, reused: false };
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code ?? '';
    if (!READ_ONLY_CODES.has(code)) {
      throw new TwinLensError(
        'ONNX_LOAD_FAILED',
        `Cannot write the edited graph ${besideModel}: ${(e as Error).message}`,
        'Check free disk space and the permissions of the pack folder.',
        { cause: e },
      );
    }
    const folder = dirname(req.modelPath);
    if (!inCache || !cacheFolder) {
      throw new TwinLensError(
        'ONNX_LOAD_FAILED',
        `Cannot write the edited graph beside ${req.modelPath}: the folder ${folder} is read-only (${code})`,
        'Make the pack folder writable, or configure a cache folder.',
        { cause: e },
      );
    }
    try {
      await mkdir(cacheFolder, { recursive: true });
      if (req.usesExternalData) for (const f of req.externalDataFiles) await linkInto(resolve(folder, f), join(cacheFolder, f));
      await io.writeAtomic(inCache, chunks);
    } catch (e2) {
      const files = req.externalDataFiles.join(', ') || 'external data files';
      throw new TwinLensError(
        'ONNX_LOAD_FAILED',
        `Cannot write the edited graph to the cache folder ${cacheFolder}${req.usesExternalData ? ` (with links to ${files})` : ''}: ${(e2 as Error).message}`,
        'Make the pack folder or the cache folder writable.',
        { cause: e2 },
      );
    }
    return { path: inCache, reused: false };
  }
}

/** Weight files up to this size are copied when they cannot be hard-linked (another disk). */
const COPY_LIMIT = 256 * 1024 * 1024;

/**
 * `to` names the same bytes as `from`: a hard link (ONNX Runtime refuses external data reached
 * through a symbolic link leading out of the model's folder), else a copy of a small file.
 */
async function linkInto(from: string, to: string): Promise<void> {
  const size = await sizeOf(from);
  if (size !== undefined && (await sizeOf(to)) === size) return;
  await unlink(to).catch(() => undefined);
  try {
    await link(from, to);
  } catch (e) {
    if (size === undefined || size > COPY_LIMIT) {
      throw new Error(
        `cannot link ${from} into the cache folder (${(e as NodeJS.ErrnoException).code ?? e}) and it is too large to copy; put the cache folder on the same disk as the pack (--cache-dir)`,
        { cause: e },
      );
    }
    await copyFile(from, to);
  }
}

/** Writes to `<path>.tmp-<pid>-<random>`, fsyncs, then renames over `path`. */
export async function writeAtomic(path: string, chunks: ByteChunks): Promise<void> {
  const tmp = `${path}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`;
  const handle = await open(tmp, 'wx');
  try {
    for (const piece of chunks.pieces) {
      let done = 0;
      while (done < piece.length) {
        const { bytesWritten } = await handle.write(piece, done, piece.length - done);
        done += bytesWritten;
      }
    }
    await handle.sync();
  } catch (e) {
    await handle.close().catch(() => undefined);
    await unlink(tmp).catch(() => undefined);
    throw e;
  }
  await handle.close();
  try {
    await rename(tmp, path);
  } catch (e) {
    await unlink(tmp).catch(() => undefined);
    // Another process won the race (Windows refuses to rename over an existing file).
    if ((await sizeOf(path)) === chunks.length) return;
    throw e;
  }
}

async function sizeOf(path: string): Promise<number | undefined> {
  try {
    const s = await stat(path);
    return s.isFile() ? s.size : undefined;
  } catch {
    return undefined;
  }
}

export interface CleanOptions {
  /** Also look in subfolders (a pack keeps its UNet in unet/); default true. */
  recursive?: boolean;
  /** How many folder levels below `dir` to visit; default 3. */
  maxDepth?: number;
}

/** Deletes edited graphs (and leftover temporaries) written by this module; returns what it removed. */
export async function cleanEditedGraphs(dir: string, opts: CleanOptions = {}): Promise<string[]> {
  const recursive = opts.recursive ?? true;
  const maxDepth = opts.maxDepth ?? 3;
  const removed: string[] = [];
  const visit = async (folder: string, depth: number): Promise<void> => {
    let entries;
    try {
      entries = await readdir(folder, { withFileTypes: true });
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT' || depth > 0) return;
      throw new TwinLensError('INVALID_ARGUMENT', `Cannot list ${folder}: ${(e as Error).message}`, 'Pass an existing pack or cache folder.', { cause: e });
    }
    for (const entry of entries) {
      const full = join(folder, entry.name);
      if (entry.isFile() && EDITED_GRAPH_RE.test(entry.name)) {
        await unlink(full);
        removed.push(full);
      } else if (recursive && entry.isDirectory() && depth < maxDepth && entry.name !== 'node_modules' && !entry.name.startsWith('.git')) {
        await visit(full, depth + 1);
      }
    }
  };
  await visit(dir, 0);
  return removed;
}
