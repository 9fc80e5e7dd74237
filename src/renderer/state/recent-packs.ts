/**
 * Recently opened packs (the last RECENT_LIMIT, newest first), persisted
 * across restarts per host (localStorage), and checked against the host's
 * file system when the list is shown: a pack moved, deleted or broken since
 * stays listed, greyed, with the engine's reason, so the user sees why it
 * cannot open instead of a failure after the click.
 */
import { useCallback, useEffect, useState } from 'react';
import type { PackCheck } from '../../shared/contract.js';
import type { Bridge } from '../bridge/types.js';
import { isRecord, loadJson, saveJson } from '../lib/persist.js';
import { toTwinLensError } from '../../shared/errors.js';

export const RECENT_LIMIT = 8;
const KEY = 'recentPacks.v1';

export interface RecentPack {
  dir: string;
  name: string;
  at: number;
}

export interface RecentPackView extends RecentPack {
  /** undefined until checked. */
  ok?: boolean;
  reason?: string;
}

const isRecent = (v: unknown): v is RecentPack => isRecord(v) && typeof v.dir === 'string' && typeof v.name === 'string' && typeof v.at === 'number';

function load(): RecentPack[] {
  const raw = loadJson<unknown>(KEY, []);
  return Array.isArray(raw) ? raw.filter(isRecent).slice(0, RECENT_LIMIT) : [];
}

/** `list` with `pack` moved (or added) to the front, at most RECENT_LIMIT long. */
export function withRecent(list: readonly RecentPack[], pack: { dir: string; name: string }, at = Date.now()): RecentPack[] {
  return [{ dir: pack.dir, name: pack.name, at }, ...list.filter((p) => p.dir !== pack.dir)].slice(0, RECENT_LIMIT);
}

export function useRecentPacks(bridge: Bridge, current: { dir: string; name: string } | undefined) {
  const [list, setList] = useState<RecentPack[]>(load);
  const [checks, setChecks] = useState<Map<string, PackCheck>>(new Map());
  // Every pack that becomes the open one (at start-up, from the list, by path, composed) is remembered.
  useEffect(() => {
    if (current) setList((l) => (l[0]?.dir === current.dir && l[0]?.name === current.name ? l : withRecent(l, current)));
  }, [current?.dir, current?.name]);
  useEffect(() => {
    saveJson(KEY, list);
  }, [list]);
  /** Asks the host whether each listed folder still holds a pack (when the list is about to be shown). */
  const check = useCallback(async () => {
    const dirs = list.map((p) => p.dir);
    if (!dirs.length) return;
    try {
      const r = await bridge.call('checkPacks', { dirs });
      setChecks(new Map(r.packs.map((c) => [c.dir, c])));
    } catch (e) {
      const reason = `could not be checked: ${toTwinLensError(e).oneLine()}`;
      setChecks(new Map(dirs.map((dir) => [dir, { dir, ok: false, reason }])));
    }
  }, [bridge, list]);
  const forget = useCallback((dir: string) => setList((l) => l.filter((p) => p.dir !== dir)), []);
  const view: RecentPackView[] = list.map((p) => ({ ...p, ok: checks.get(p.dir)?.ok, reason: checks.get(p.dir)?.reason }));
  return { recent: view, check, forget };
}
