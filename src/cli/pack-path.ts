/**
 * Which pack a command runs on: --pack, else $TWINLENS_PACK, else the
 * built-in mini-world pack shipped in models/, else the tiny test fixture
 * (so a fresh checkout always has something to run).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

export function builtInPacks(): string[] {
  return [path.join(REPO_ROOT, 'models', 'mini-world'), path.join(REPO_ROOT, 'test', 'fixtures', 'packs', 'tiny')];
}

export function defaultPackDir(explicit?: string): string {
  if (explicit) return path.resolve(explicit);
  if (process.env.TWINLENS_PACK) return path.resolve(process.env.TWINLENS_PACK);
  for (const p of builtInPacks()) if (fs.existsSync(path.join(p, 'pack.json'))) return p;
  return builtInPacks()[0];
}
