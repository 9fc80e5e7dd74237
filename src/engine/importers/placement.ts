/**
 * How a composed pack gets its files: hard links, never symlinks, copies only
 * when asked or when a file is small.
 *
 * Why: a pack is one folder whose pack.json paths must stay inside it, and
 * Pack.resolve refuses a symlink that leads outside (a manifest must not make
 * the engine read arbitrary files). Copying multi-gigabyte weights would
 * double the disk use. A hard link is a second name for the same bytes: no
 * extra space, inside the pack folder as far as every path check can tell,
 * still valid if the source folder is moved or deleted, and ONNX Runtime
 * finds `weights.pb` / `model.onnx_data` beside the linked model.onnx. Hard
 * links need the same file system, so across file systems small files are
 * copied and large ones are refused unless `copy` is chosen (or the pack is
 * created on the models' disk). The engine writes its edited graphs into the
 * pack's folders, so the source folders are never modified.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { TwinLensError } from '../../shared/errors.js';

export type PlacementMode = 'link' | 'copy';

/** Files up to this size are copied when a hard link is impossible. */
export const COPY_FALLBACK_BYTES = 64 * 1024 * 1024;

export interface Placement {
  from: string;
  /** Relative to the pack folder. */
  to: string;
  how: 'hardlink' | 'copy' | 'written' | 'kept';
  bytes: number;
}

export interface PlacementOptions {
  mode?: PlacementMode;
  /** Test seam: the link call (fs.linkSync). */
  link?: (from: string, to: string) => void;
}

function sameFile(a: string, b: string): boolean {
  try {
    const x = fs.statSync(a);
    const y = fs.statSync(b);
    return x.ino === y.ino && x.dev === y.dev;
  } catch {
    return false;
  }
}

export class PackPlacer {
  readonly placed: Placement[] = [];
  private readonly mode: PlacementMode;
  private readonly link: (from: string, to: string) => void;

  constructor(
    readonly packDir: string,
    opts: PlacementOptions = {},
  ) {
    this.mode = opts.mode ?? 'link';
    this.link = opts.link ?? ((a, b) => fs.linkSync(a, b));
  }

  private target(rel: string): string {
    const abs = path.resolve(this.packDir, rel);
    const r = path.relative(this.packDir, abs);
    if (r.startsWith('..') || path.isAbsolute(r)) throw new TwinLensError('PACK_PATH_ESCAPE', `pack path ${rel} would leave the pack folder`);
    fs.mkdirSync(path.dirname(abs), { recursive: true });
    return abs;
  }

  /** Places one source file at `rel` inside the pack (hard link, else copy as allowed). */
  file(from: string, rel: string): Placement {
    const src = fs.realpathSync(from);
    const dest = this.target(rel);
    const bytes = fs.statSync(src).size;
    let how: Placement['how'];
    if (fs.existsSync(dest) && sameFile(src, dest)) how = 'kept';
    else {
      fs.rmSync(dest, { force: true });
      if (this.mode === 'copy') {
        fs.copyFileSync(src, dest);
        how = 'copy';
      } else {
        try {
          this.link(src, dest);
          how = 'hardlink';
        } catch (e) {
          const code = (e as NodeJS.ErrnoException).code ?? '';
          if (!['EXDEV', 'EPERM', 'EMLINK', 'ENOTSUP', 'EOPNOTSUPP'].includes(code)) throw e;
          if (bytes > COPY_FALLBACK_BYTES) {
            throw new TwinLensError(
              'INVALID_ARGUMENT',
              `Cannot hard-link ${src} into ${this.packDir} (${code}: ${code === 'EXDEV' ? 'different file systems' : 'links not allowed here'}) and it is ${(bytes / 1e6).toFixed(0)} MB`,
              'Create the pack on the same disk as the models, or pass --copy to copy the files',
            );
          }
          fs.copyFileSync(src, dest);
          how = 'copy';
        }
      }
    }
    const p: Placement = { from: src, to: rel, how, bytes };
    this.placed.push(p);
    return p;
  }

  /** Places an ONNX model and every external-data file it names, keeping their relative layout. */
  onnx(model: string, externalData: readonly string[], rel: string): void {
    this.file(model, rel);
    const srcDir = path.dirname(model);
    const destDir = path.dirname(rel);
    for (const data of externalData) this.file(path.join(srcDir, data), path.join(destDir, data));
  }

  /** Writes generated content (converted tokenizer, identity projector, pack.json). */
  write(rel: string, content: string | Uint8Array): Placement {
    const dest = this.target(rel);
    const tmp = `${dest}.tmp-${process.pid}`;
    fs.writeFileSync(tmp, content);
    fs.renameSync(tmp, dest);
    const p: Placement = { from: '(generated)', to: rel, how: 'written', bytes: typeof content === 'string' ? Buffer.byteLength(content) : content.length };
    this.placed.push(p);
    return p;
  }

  summary(): { hardlinked: number; copied: number; written: number; bytesLinked: number; bytesCopied: number } {
    const s = { hardlinked: 0, copied: 0, written: 0, bytesLinked: 0, bytesCopied: 0 };
    for (const p of this.placed) {
      if (p.how === 'hardlink' || p.how === 'kept') {
        s.hardlinked++;
        s.bytesLinked += p.bytes;
      } else if (p.how === 'copy') {
        s.copied++;
        s.bytesCopied += p.bytes;
      } else s.written++;
    }
    return s;
  }
}
