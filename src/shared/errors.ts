/**
 * Error codes shared by every layer. An engine error crosses the process
 * boundary as `{code, message, hint}` and is rebuilt as a TwinLensError, so the
 * CLI, the server and the UI can all say what went wrong and what to do.
 */
export const ERROR_CODES = [
  'INVALID_ARGUMENT',
  'PACK_NOT_FOUND',
  'PACK_MANIFEST_INVALID',
  'PACK_PATH_ESCAPE',
  'PATH_NOT_ALLOWED',
  'PACK_FILE_MISSING',
  'PACK_HASH_MISMATCH',
  'ONNX_LOAD_FAILED',
  'ONNX_IO_MISMATCH',
  'ONNX_RUN_FAILED',
  'TAP_NOT_FOUND',
  'MODE_UNAVAILABLE',
  'IMAGE_DECODE_FAILED',
  'IMAGE_TOO_LARGE',
  'PROVIDER_UNAVAILABLE',
  'INSUFFICIENT_MEMORY',
  'DOWNLOAD_FAILED',
  'DISK_FULL',
  'PERMISSION_DENIED',
  'CANCELLED',
  'ENGINE_CRASHED',
  'ENGINE_DISPOSED',
  'INTERNAL',
] as const;

export type ErrorCode = (typeof ERROR_CODES)[number];

export interface SerializedError {
  code: ErrorCode;
  message: string;
  hint?: string;
}

export class TwinLensError extends Error {
  readonly code: ErrorCode;
  readonly hint?: string;

  constructor(code: ErrorCode, message: string, hint?: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'TwinLensError';
    this.code = code;
    this.hint = hint;
  }

  toJSON(): SerializedError {
    return { code: this.code, message: this.message, ...(this.hint ? { hint: this.hint } : {}) };
  }

  /** One line for a terminal or a status bar: the reason, then what to do. */
  oneLine(): string {
    return this.hint ? `${this.message} (${this.hint})` : this.message;
  }
}

export function isTwinLensError(e: unknown): e is TwinLensError {
  return e instanceof TwinLensError;
}

/** Wrap anything thrown into a TwinLensError, keeping codes that already exist. */
export function toTwinLensError(e: unknown, fallback: ErrorCode = 'INTERNAL'): TwinLensError {
  if (e instanceof TwinLensError) return e;
  if (e && typeof e === 'object' && 'code' in e && 'message' in e) {
    const { code, message, hint } = e as { code: unknown; message: unknown; hint?: unknown };
    if (typeof code === 'string' && (ERROR_CODES as readonly string[]).includes(code)) {
      return new TwinLensError(code as ErrorCode, String(message), typeof hint === 'string' ? hint : undefined);
    }
  }
  if (e instanceof Error && e.name === 'AbortError') return new TwinLensError('CANCELLED', 'The operation was cancelled');
  const errno = fromErrno(e);
  if (errno) return errno;
  const message = e instanceof Error ? e.message : String(e);
  return new TwinLensError(fallback, message, undefined, { cause: e });
}

const VERBS: Record<string, string> = {
  mkdir: 'create the folder',
  open: 'open',
  rename: 'write',
  unlink: 'delete',
  rmdir: 'delete',
  scandir: 'list',
  copyfile: 'copy to',
  link: 'link to',
};

/**
 * A file-system error from Node (EACCES, EROFS, ENOSPC…) in words: which path, what was being done,
 * what to do. Without this it reaches the user as "INTERNAL: EACCES: permission denied, mkdir '…'".
 */
function fromErrno(e: unknown): TwinLensError | undefined {
  if (!(e instanceof Error)) return undefined;
  const { code, path: file, syscall } = e as Error & { code?: unknown; path?: unknown; syscall?: unknown };
  if (typeof code !== 'string' || typeof file !== 'string') return undefined;
  const verb = (typeof syscall === 'string' && VERBS[syscall]) || 'use';
  if (code === 'EACCES' || code === 'EPERM') {
    return new TwinLensError(
      'PERMISSION_DENIED',
      `Permission denied: cannot ${verb} ${file}`,
      'Choose a file or folder this user may use, or change its permissions',
      { cause: e },
    );
  }
  if (code === 'EROFS') {
    return new TwinLensError('PERMISSION_DENIED', `Read-only file system: cannot ${verb} ${file}`, 'Choose a folder on a writable disk', { cause: e });
  }
  if (code === 'ENOSPC' || code === 'EDQUOT') {
    return new TwinLensError('DISK_FULL', `The disk is full: cannot ${verb} ${file}`, 'Free some space or choose another folder, then run it again', {
      cause: e,
    });
  }
  return undefined;
}

export function cancelledError(what = 'The operation'): TwinLensError {
  return new TwinLensError('CANCELLED', `${what} was cancelled`);
}

/** Throws CANCELLED when the signal is aborted; call between steps of long work. */
export function throwIfAborted(signal: AbortSignal | undefined, what?: string): void {
  if (signal?.aborted) throw cancelledError(what);
}
