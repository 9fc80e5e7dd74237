/**
 * Which answer modes a request runs: the one rule every surface uses (the
 * engine's `ask`, the Eval view's `evaluate` and `leakage`, the CLI's
 * `--modes`), so "all" cannot mean different things in different places.
 *
 * "all" = the pack's non-extra modes, in manifest order (an extra mode, such
 * as the leaky control, runs only when named). `ask` keeps unavailable ones
 * (each column then says why); runs that score answers take the available
 * ones and refuse a named mode that is unknown or unavailable.
 */
import { TwinLensError } from './errors.js';

interface ModeLike {
  id: string;
  extra: boolean;
}

type RunnableMode = ModeLike & { available: boolean; reason?: string };

/** What "all" means: every non-extra mode, in manifest order. */
export function allModeIds(modes: readonly ModeLike[]): string[] {
  return modes.filter((m) => !m.extra).map((m) => m.id);
}

/**
 * The modes a scored run uses: for "all" (or nothing), the available modes of `allModeIds` — or,
 * with `defaults`, the available modes it selects (leakage: every mode reading diffusion, extras
 * included); a list must name known, available modes. Throws when nothing is left.
 */
export function runnableModes<M extends RunnableMode>(
  info: { name: string; modes: readonly M[] },
  spec: 'all' | readonly string[] | undefined,
  defaults?: (m: M) => boolean,
): string[] {
  if (!spec || spec === 'all') {
    const pick = defaults ? info.modes.filter(defaults).map((m) => m.id) : allModeIds(info.modes);
    const ids = pick.filter((id) => info.modes.find((m) => m.id === id)!.available);
    if (!ids.length) throw new TwinLensError('MODE_UNAVAILABLE', `Pack ${info.name} has no ${defaults ? 'suitable ' : ''}available answer mode`);
    return ids;
  }
  for (const id of spec) {
    const m = info.modes.find((x) => x.id === id);
    if (!m) throw new TwinLensError('INVALID_ARGUMENT', `Pack ${info.name} has no mode "${id}"`, `Modes: ${info.modes.map((x) => x.id).join(', ')}`);
    if (!m.available) throw new TwinLensError('MODE_UNAVAILABLE', `Mode "${id}" is unavailable: ${m.reason ?? 'missing parts'}`);
  }
  return [...spec];
}
