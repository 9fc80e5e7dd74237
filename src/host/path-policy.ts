/**
 * Web mode's file policy: a call from a browser may name files and folders
 * only under the roots the user chose when starting the server (`twinlens
 * serve --root DIR`, repeatable; default: the pack folders and the current
 * directory). Anyone holding the page's token can send any call, so without
 * this the engine would read (and composePack write) wherever its process
 * can. Checked in the broker after the contract parse, before the engine sees
 * the call; a refusal names the field and the roots, never the file's content.
 *
 * Paths are compared after resolving symbolic links (the nearest existing
 * ancestor for a path still to be created), so a link inside a root cannot
 * point out of it.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { ContractMethod } from '../shared/contract.js';
import { TwinLensError } from '../shared/errors.js';

interface PathRef {
  field: string;
  value: string;
}

/** A built-in suite name (no separator, no extension) is looked up inside the open pack, not on disk. */
function isSuiteName(s: string): boolean {
  return !/[/\\]/.test(s) && !/\.(jsonl|csv|json)$/i.test(s) && s !== '.' && s !== '..';
}

function imagePaths(images: unknown, field: string): PathRef[] {
  const list = Array.isArray(images) ? images : [images];
  return list.flatMap((im, i) => {
    const p = im && typeof im === 'object' ? (im as { path?: unknown }).path : undefined;
    return typeof p === 'string' ? [{ field: Array.isArray(images) ? `${field}.${i}.path` : `${field}.path`, value: p }] : [];
  });
}

/** Every file-system path a parsed call names. */
export function pathsOf(method: ContractMethod, params: unknown): PathRef[] {
  const p = (params ?? {}) as Record<string, unknown>;
  const str = (k: string): PathRef[] => (typeof p[k] === 'string' ? [{ field: k, value: p[k] as string }] : []);
  switch (method) {
    case 'ask':
    case 'features':
      return imagePaths(p.image, 'image');
    case 'visualize':
      return imagePaths(p.images, 'images');
    case 'evaluate':
    case 'leakage':
      return [...(typeof p.suite === 'string' && !isSuiteName(p.suite) ? str('suite') : []), ...str('imagesDir')];
    case 'estimate':
    case 'openPack':
      return str('dir');
    case 'checkPacks':
      return (Array.isArray(p.dirs) ? p.dirs : []).filter((v): v is string => typeof v === 'string').map((value, i) => ({ field: `dirs.${i}`, value }));
    case 'composePack':
      return [
        ...['sd', 'clip', 'llm', 'projectors', 'out'].flatMap(str),
        ...(Array.isArray(p.trained) ? p.trained.filter((v): v is string => typeof v === 'string').map((value) => ({ field: 'trained', value })) : []),
      ];
    default:
      return [];
  }
}

/** realpath of the path, or of its nearest existing ancestor joined with the rest. */
function realish(p: string): string {
  let cur = path.resolve(p);
  const rest: string[] = [];
  for (;;) {
    try {
      return path.join(fs.realpathSync(cur), ...rest.reverse());
    } catch {
      const parent = path.dirname(cur);
      if (parent === cur) return path.join(cur, ...rest.reverse());
      rest.push(path.basename(cur));
      cur = parent;
    }
  }
}

export interface PathPolicyOptions {
  /** What the refusal calls the holder of the roots ("this server"). */
  owner?: string;
  /** What the user can do about a refusal. */
  hint?: string;
}

export class PathPolicy {
  private readonly list: string[];
  private readonly owner: string;
  private readonly hint: string;

  constructor(roots: string[], opts: PathPolicyOptions = {}) {
    if (!roots.length) throw new Error('PathPolicy needs at least one root');
    this.list = [...new Set(roots.map(realish))];
    this.owner = opts.owner ?? 'this server';
    this.hint = opts.hint ?? 'Move the file under one of them, or restart `twinlens serve` with --root <folder>';
  }

  get roots(): readonly string[] {
    return this.list;
  }

  /**
   * Adds a file or folder the user picked (a dialog, a drop): the desktop app's grants.
   * A folder grants everything under it, a file only itself.
   */
  grant(p: string): void {
    const real = realish(p);
    if (!this.list.includes(real)) this.list.push(real);
  }

  allows(p: string): boolean {
    const real = realish(p);
    return this.list.some((r) => real === r || real.startsWith(r.endsWith(path.sep) ? r : r + path.sep));
  }

  /** Throws PATH_NOT_ALLOWED for the first path of the call outside every root. */
  check(method: ContractMethod, params: unknown): void {
    for (const ref of pathsOf(method, params)) {
      if (!this.allows(ref.value)) {
        throw new TwinLensError(
          'PATH_NOT_ALLOWED',
          `${method}: ${ref.field} is outside the folders ${this.owner} may use (${this.list.join(', ')})`,
          this.hint,
        );
      }
    }
  }
}
