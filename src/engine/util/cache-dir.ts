/**
 * The user's cache folder for what the engine keeps between runs (edited
 * graphs, evaluation journals): the platform's cache location + twinlens/SUB,
 * XDG_CACHE_HOME or ~/.cache on Linux, ~/Library/Caches on macOS,
 * %LOCALAPPDATA% on Windows. Never beside the models: an installed pack is
 * read-only.
 */
import { homedir } from 'node:os';
import { join } from 'node:path';

export function userCacheDir(sub: string): string {
  const base =
    process.platform === 'win32'
      ? (process.env.LOCALAPPDATA ?? join(homedir(), 'AppData', 'Local'))
      : process.platform === 'darwin'
        ? join(homedir(), 'Library', 'Caches')
        : (process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'));
  return join(base, 'twinlens', sub);
}
