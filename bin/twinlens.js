#!/usr/bin/env node
// The `twinlens` command. Runs the compiled CLI when `npm run build` has been
// run, otherwise the TypeScript sources through tsx, so `npx twinlens` works
// straight after `npm ci`.
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const built = join(root, 'dist', 'cli', 'index.js');
if (existsSync(built) && !process.env.TWINLENS_FROM_SOURCE) {
  await import(pathToFileURL(built).href);
} else {
  const { register } = await import('tsx/esm/api');
  register();
  await import(pathToFileURL(join(root, 'src', 'cli', 'index.ts')).href);
}
