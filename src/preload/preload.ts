/**
 * The preload script of the TwinLens window. Runs sandboxed (no Node
 * modules but `electron`'s renderer half), so it is bundled to one CommonJS
 * file by esbuild (`npm run build:preload` → dist/preload/preload.cjs).
 *
 * It exposes `window.twinlens` (see api.ts) and nothing else. It also turns
 * dropped files into paths for the main process (webUtils.getPathForFile is
 * only available here), so a dropped pack folder can be opened without
 * giving the page any file-system API.
 */
import { contextBridge, ipcRenderer, webUtils } from 'electron';
import { IPC, createPreloadApi } from './api.js';

contextBridge.exposeInMainWorld('twinlens', createPreloadApi(ipcRenderer));

// Folders cannot be read by the page; report every dropped item's path and let
// main decide (pack folder → Open Pack). Images are read by the page itself.
window.addEventListener(
  'drop',
  (e) => {
    const files = Array.from(e.dataTransfer?.files ?? []);
    const paths = files.map((f) => webUtils.getPathForFile(f)).filter((p) => typeof p === 'string' && p.length > 0);
    if (paths.length) ipcRenderer.send(IPC.dropped, paths);
  },
  true,
);
