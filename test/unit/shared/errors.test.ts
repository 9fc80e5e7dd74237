/**
 * toTwinLensError: codes that already exist survive, Node's file-system errors
 * become PERMISSION_DENIED / DISK_FULL naming the path and what was being done,
 * anything else becomes the fallback code.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { TwinLensError, toTwinLensError } from '../../../src/shared/errors.js';

function errno(code: string, syscall: string, file: string): NodeJS.ErrnoException {
  return Object.assign(new Error(`${code}: something, ${syscall} '${file}'`), { code, syscall, path: file });
}

describe('toTwinLensError', () => {
  it('keeps a TwinLensError and a serialized one with a known code', () => {
    const e = new TwinLensError('PACK_NOT_FOUND', 'no pack', 'pass one');
    expect(toTwinLensError(e)).toBe(e);
    expect(toTwinLensError({ code: 'DISK_FULL', message: 'full', hint: 'h' }).toJSON()).toEqual({ code: 'DISK_FULL', message: 'full', hint: 'h' });
  });

  it('turns EACCES, EPERM and EROFS into PERMISSION_DENIED with the path and the action', () => {
    expect(toTwinLensError(errno('EACCES', 'mkdir', '/srv/out')).toJSON()).toMatchObject({
      code: 'PERMISSION_DENIED',
      message: 'Permission denied: cannot create the folder /srv/out',
    });
    expect(toTwinLensError(errno('EPERM', 'open', '/srv/a.npy')).message).toBe('Permission denied: cannot open /srv/a.npy');
    expect(toTwinLensError(errno('EROFS', 'rename', '/mnt/ro/x')).toJSON()).toMatchObject({
      code: 'PERMISSION_DENIED',
      message: 'Read-only file system: cannot write /mnt/ro/x',
      hint: expect.stringContaining('writable'),
    });
    expect(toTwinLensError(errno('EACCES', 'futimes', '/x')).message).toBe('Permission denied: cannot use /x');
  });

  it('turns ENOSPC into DISK_FULL', () => {
    expect(toTwinLensError(errno('ENOSPC', 'write', '/big/file')).code).toBe('DISK_FULL');
  });

  it('leaves other errno codes (ENOTDIR) to the fallback', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'twinlens-errors-'));
    try {
      // A file where a folder is expected gives ENOTDIR for everyone, root included: not a permission error.
      fs.writeFileSync(path.join(dir, 'f'), '');
      let thrown: unknown;
      try {
        fs.mkdirSync(path.join(dir, 'f', 'sub'));
      } catch (e) {
        thrown = e;
      }
      expect(toTwinLensError(thrown).code).toBe('INTERNAL');
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('uses the fallback for errors without a path, and CANCELLED for an AbortError', () => {
    expect(toTwinLensError(Object.assign(new Error('EACCES'), { code: 'EACCES' }), 'ONNX_RUN_FAILED').code).toBe('ONNX_RUN_FAILED');
    expect(toTwinLensError(new DOMException('stop', 'AbortError')).code).toBe('CANCELLED');
    expect(toTwinLensError('plain').code).toBe('INTERNAL');
  });
});
