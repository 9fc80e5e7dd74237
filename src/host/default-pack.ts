/**
 * Which model pack a host opens when the user did not name one. One rule for
 * the web server, the Electron app (src/main imports this) and the CLI:
 *
 *   --pack DIR  >  $TWINLENS_PACK  >  models/mini-world  >  test/fixtures/packs/tiny
 *
 * The built-in mini-world pack is the product default; the tiny fixture pack
 * is the fallback for a checkout where mini-world has not been trained yet
 * (its answers are gibberish, but every screen works).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository (or installed package) root: two levels above src/server or dist/server. */
export function packageRoot(): string {
  return path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
}

export function isPackDir(dir: string): boolean {
  return fs.existsSync(path.join(dir, 'pack.json'));
}

export interface PackChoice {
  dir: string;
  /** Where the choice came from, for the startup line. */
  source: 'argument' | 'env' | 'built-in' | 'fixture' | 'none';
}

export function resolveDefaultPack(opts: { explicit?: string; env?: NodeJS.ProcessEnv; root?: string; extraCandidates?: string[] } = {}): PackChoice {
  if (opts.explicit) return { dir: path.resolve(opts.explicit), source: 'argument' };
  const env = opts.env ?? process.env;
  if (env.TWINLENS_PACK) return { dir: path.resolve(env.TWINLENS_PACK), source: 'env' };
  const root = opts.root ?? packageRoot();
  for (const c of opts.extraCandidates ?? []) if (isPackDir(c)) return { dir: c, source: 'built-in' };
  const builtIn = path.join(root, 'models', 'mini-world');
  if (isPackDir(builtIn)) return { dir: builtIn, source: 'built-in' };
  const fixture = path.join(root, 'test', 'fixtures', 'packs', 'tiny');
  if (isPackDir(fixture)) return { dir: fixture, source: 'fixture' };
  // Nothing found: the engine starts without a pack and the UI asks for one.
  return { dir: builtIn, source: 'none' };
}

/** Read `--name value` or `--name=value` from an argv list. */
export function argValue(argv: string[], name: string): string | undefined {
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === name) return argv[i + 1];
    if (a.startsWith(`${name}=`)) return a.slice(name.length + 1);
  }
  return undefined;
}

/** Folders holding the packs shipped with the app (the built-in pack and the test fixtures). */
export function builtInPackDirs(root = packageRoot()): string[] {
  return [path.join(root, 'models'), path.join(root, 'test', 'fixtures', 'packs')].filter((d) => fs.existsSync(d));
}
