/**
 * History of asked questions, per image (keyed by a hash of its bytes), so
 * opening the same image again brings back what was asked and answered, and
 * any entry can be re-run with its question and knobs. Persisted in
 * localStorage; bounded (entries per image, images overall) so it cannot
 * grow without limit.
 */
import { useCallback, useEffect, useState } from 'react';
import type { StopReason } from '../../shared/contract.js';
import { isRecord, loadJson, saveJson } from '../lib/persist.js';
import type { Knobs } from './settings.js';

export interface HistoryAnswer {
  text: string;
  ms?: number;
  tokens?: number;
  stop?: StopReason;
  error?: string;
}

export interface HistoryEntry {
  id: string;
  at: number;
  question: string;
  knobs: Knobs;
  answers: Record<string, HistoryAnswer>;
  /** The pack that answered (answers from different packs are not comparable). */
  pack?: string;
}

interface ImageHistory {
  name: string;
  updatedAt: number;
  entries: HistoryEntry[];
}

type Store = Record<string, ImageHistory>;

const KEY = 'history.v1';
const MAX_ENTRIES_PER_IMAGE = 50;
const MAX_IMAGES = 100;

function loadStore(): Store {
  const raw = loadJson<unknown>(KEY, {});
  if (!isRecord(raw)) return {};
  const out: Store = {};
  for (const [hash, v] of Object.entries(raw)) {
    if (isRecord(v) && Array.isArray(v.entries) && typeof v.name === 'string') out[hash] = v as unknown as ImageHistory;
  }
  return out;
}

function prune(store: Store): Store {
  const hashes = Object.keys(store);
  if (hashes.length <= MAX_IMAGES) return store;
  const keep = hashes.sort((a, b) => store[b].updatedAt - store[a].updatedAt).slice(0, MAX_IMAGES);
  return Object.fromEntries(keep.map((h) => [h, store[h]]));
}

export interface HistoryApi {
  entries: HistoryEntry[];
  add(entry: Omit<HistoryEntry, 'id' | 'at'>): void;
  remove(id: string): void;
  clear(): void;
}

export function useHistory(imageHash: string | undefined, imageName: string | undefined): HistoryApi {
  const [store, setStore] = useState<Store>(loadStore);
  useEffect(() => {
    // Over quota: drop the oldest half of the images and try once more.
    if (!saveJson(KEY, store)) {
      const hashes = Object.keys(store).sort((a, b) => store[b].updatedAt - store[a].updatedAt);
      saveJson(KEY, Object.fromEntries(hashes.slice(0, Math.ceil(hashes.length / 2)).map((h) => [h, store[h]])));
    }
  }, [store]);

  const add = useCallback(
    (entry: Omit<HistoryEntry, 'id' | 'at'>) => {
      if (!imageHash) return;
      setStore((s) => {
        const prev = s[imageHash] ?? { name: imageName ?? 'image', updatedAt: 0, entries: [] };
        const full: HistoryEntry = { ...entry, id: `${Date.now().toString(36)}${Math.random().toString(36).slice(2, 6)}`, at: Date.now() };
        const entries = [full, ...prev.entries].slice(0, MAX_ENTRIES_PER_IMAGE);
        return prune({ ...s, [imageHash]: { name: imageName ?? prev.name, updatedAt: Date.now(), entries } });
      });
    },
    [imageHash, imageName],
  );

  const remove = useCallback(
    (id: string) => {
      if (!imageHash) return;
      setStore((s) => {
        const prev = s[imageHash];
        if (!prev) return s;
        return { ...s, [imageHash]: { ...prev, entries: prev.entries.filter((e) => e.id !== id) } };
      });
    },
    [imageHash],
  );

  const clear = useCallback(() => {
    if (!imageHash) return;
    setStore((s) => {
      const next = { ...s };
      delete next[imageHash];
      return next;
    });
  }, [imageHash]);

  return { entries: imageHash ? (store[imageHash]?.entries ?? []) : [], add, remove, clear };
}
