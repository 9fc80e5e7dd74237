/**
 * Picks the bridge for the host the page is running in: the preload's
 * `window.twinlens` inside Electron, otherwise the web-mode WebSocket.
 */
import { ElectronBridge } from './electron-bridge.js';
import type { Bridge, TwinLensWindowApi } from './types.js';
import { WsBridge } from './ws-bridge.js';

declare global {
  interface Window {
    twinlens?: TwinLensWindowApi;
  }
}

export function createBridge(): Bridge {
  if (window.twinlens) return new ElectronBridge(window.twinlens);
  return new WsBridge();
}

export type { Bridge, BridgeCallOptions, HostEvent, EngineStateView, HostCommand, PickPathRequest } from './types.js';
