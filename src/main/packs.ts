/**
 * Which model pack the desktop app opens, and where user packs live.
 *
 *   --pack DIR > $TWINLENS_PACK > the pack opened last time > the built-in
 *   mini-world (resources/mini-world when packaged, models/mini-world in a
 *   checkout) > the tiny test fixture (checkouts only).
 *
 * User packs belong under <userData>/packs, where the Open Pack dialog
 * starts; the last pack opened is remembered in <userData>/last-pack.json.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { defaultCacheDir } from '../engine/hub/cache.js';
import { app } from 'electron';
import { argValue, builtInPackDirs, isPackDir, resolveDefaultPack } from '../host/default-pack.js';
import { PathPolicy } from '../host/path-policy.js';

export function userPacksDir(): string {
  const dir = path.join(app.getPath('userData'), 'packs');
  try {
    fs.mkdirSync(dir, { recursive: true });
  } catch {
    /* read-only profile: the dialog falls back to home */
  }
  return dir;
}

function lastPackFile(): string {
  return path.join(app.getPath('userData'), 'last-pack.json');
}

/** The renderer's recent-packs list shows at most this many; the same folders stay granted across restarts. */
const RECENT_LIMIT = 8;

function recentPacksFile(): string {
  return path.join(app.getPath('userData'), 'recent-packs.json');
}

/** Pack folders opened before (newest first): granted again at start-up, so the recent list can open them. */
export function recentPacks(): string[] {
  try {
    const list = JSON.parse(fs.readFileSync(recentPacksFile(), 'utf8')) as unknown;
    return Array.isArray(list) ? list.filter((d): d is string => typeof d === 'string').slice(0, RECENT_LIMIT) : [];
  } catch {
    return [];
  }
}

export function rememberPack(dir: string): void {
  try {
    fs.writeFileSync(lastPackFile(), JSON.stringify({ dir }));
    fs.writeFileSync(recentPacksFile(), JSON.stringify([dir, ...recentPacks().filter((d) => d !== dir)].slice(0, RECENT_LIMIT)));
  } catch {
    /* not worth failing over */
  }
}

function lastPack(): string | undefined {
  try {
    const { dir } = JSON.parse(fs.readFileSync(lastPackFile(), 'utf8')) as { dir?: unknown };
    return typeof dir === 'string' && isPackDir(dir) ? dir : undefined;
  } catch {
    return undefined;
  }
}

export function chooseStartupPack(argv = process.argv): string | undefined {
  const explicit = argValue(argv, '--pack');
  if (explicit || process.env.TWINLENS_PACK) return resolveDefaultPack({ explicit }).dir;
  const remembered = lastPack();
  if (remembered) return remembered;
  const builtIn = app.isPackaged ? [path.join(process.resourcesPath, 'mini-world')] : [];
  const choice = resolveDefaultPack({ root: app.isPackaged ? process.resourcesPath : app.getAppPath(), extraCandidates: builtIn });
  return choice.source === 'none' ? undefined : choice.dir;
}

/** Dropped paths: folders with a pack.json are packs; other folders get an explanation; files are the page's business. */
export function classifyDropped(paths: string[]): { packs: string[]; notPacks: string[] } {
  const packs: string[] = [];
  const notPacks: string[] = [];
  for (const p of paths) {
    const stat = fs.statSync(p, { throwIfNoEntry: false });
    if (!stat?.isDirectory()) continue;
    (isPackDir(p) ? packs : notPacks).push(p);
  }
  return { packs, notPacks };
}

/**
 * The desktop app's file policy: engine calls may name only the built-in packs, the user pack
 * folder, the startup pack, the packs opened in earlier sessions (recent-packs.json), and what
 * the user picks in a dialog or drops on the window (granted as it happens). A path typed into the page is refused with PATH_NOT_ALLOWED and a hint.
 */
export function desktopPathPolicy(startupPack: string | undefined): PathPolicy {
  const root = app.isPackaged ? process.resourcesPath : app.getAppPath();
  const roots = [...builtInPackDirs(root), userPacksDir(), ...(app.isPackaged ? [path.join(process.resourcesPath, 'mini-world')] : [])];
  if (startupPack) roots.push(startupPack);
  // Folders the user opened in earlier sessions (picked or dropped then): the recent-packs list; and the
  // hub cache with the packs composed from it (Models → Get models).
  roots.push(...recentPacks(), path.dirname(defaultCacheDir()));
  return new PathPolicy(roots, {
    owner: 'the desktop app',
    hint: 'Choose it with Browse… (or File ▸ Open, or drop it on the window): the app uses only files and folders you picked',
  });
}
