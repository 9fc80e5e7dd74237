/**
 * Small, defensive localStorage persistence for settings, theme and history.
 * Web mode keeps them per server origin; Electron keeps them in the app's
 * user-data folder (Chromium's localStorage lives there). Corrupt or
 * over-quota storage never breaks the app: reads fall back to defaults and
 * failed writes are reported once to the console.
 */

const PREFIX = 'twinlens.';
let warned = false;

export function loadJson<T>(key: string, fallback: T, validate?: (v: unknown) => v is T): T {
  try {
    const raw = localStorage.getItem(PREFIX + key);
    if (raw === null) return fallback;
    const v = JSON.parse(raw) as unknown;
    if (validate && !validate(v)) return fallback;
    return v as T;
  } catch {
    return fallback;
  }
}

export function saveJson(key: string, value: unknown): boolean {
  try {
    localStorage.setItem(PREFIX + key, JSON.stringify(value));
    return true;
  } catch (e) {
    if (!warned) {
      warned = true;
      console.warn(`TwinLens: could not save ${key} (${(e as Error).message}); older history may be dropped`);
    }
    return false;
  }
}

export function removeKey(key: string): void {
  try {
    localStorage.removeItem(PREFIX + key);
  } catch {
    /* storage unavailable: nothing to remove */
  }
}

export const isRecord = (v: unknown): v is Record<string, unknown> => !!v && typeof v === 'object' && !Array.isArray(v);
