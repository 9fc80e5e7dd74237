/**
 * Which Python the CLI's optional reference runs use: $TWINLENS_PYTHON, else
 * the project's .venv made by `npm run setup:py` (training/setup_venv.sh).
 * The app itself never needs Python; only `bench`'s PyTorch comparison does.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { REPO_ROOT } from './pack-path.js';

export const VENV_PYTHON = path.join(REPO_ROOT, '.venv', 'bin', 'python');

export function projectPython(): string {
  return process.env.TWINLENS_PYTHON ?? VENV_PYTHON;
}

/** Null when `python` runs and imports every module; else why not, with the fix. */
export function pythonProblem(python: string, modules: string[]): string | null {
  if (!process.env.TWINLENS_PYTHON && !fs.existsSync(python)) return `${python} not found: run \`npm run setup:py\` (or set TWINLENS_PYTHON)`;
  const r = spawnSync(python, ['-c', modules.map((m) => `import ${m}`).join('; ')], { encoding: 'utf8' });
  if (r.error) return `${python} could not be started (${r.error.message}): run \`npm run setup:py\``;
  if (r.status !== 0) return `${python} cannot import ${modules.join(', ')}: run \`npm run setup:py\``;
  return null;
}
