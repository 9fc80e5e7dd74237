#!/usr/bin/env node
// The `twinlens` command. Runs the compiled CLI when `npm run build` output
// is present and newer than every source file, otherwise the TypeScript
// sources through tsx — so `npx twinlens` works straight after `npm ci` and
// never runs a stale build after the sources changed.
import { existsSync, readdirSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const built = join(root, 'dist', 'cli', 'index.js');
const sources = join(root, 'src');

function newestMtime(dir) {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, entry.name);
    if (entry.isDirectory()) {
      if (entry.name !== 'renderer') newest = Math.max(newest, newestMtime(p));
    } else if (entry.name.endsWith('.ts')) newest = Math.max(newest, statSync(p).mtimeMs);
  }
  return newest;
}

const useBuilt = existsSync(built) && !process.env.TWINLENS_FROM_SOURCE && (!existsSync(sources) || statSync(built).mtimeMs >= newestMtime(sources));
if (useBuilt) {
  await import(pathToFileURL(built).href);
} else {
  const { register } = await import('tsx/esm/api');
  register();
  await import(pathToFileURL(join(sources, 'cli', 'index.ts')).href);
}
