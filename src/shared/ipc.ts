/**
 * The Electron IPC channel names: the one list both sides use, the preload
 * (src/preload/api.ts, which may import only shared) and the main process
 * (src/main/ipc-broker.ts, main.ts). A channel renamed on one side only
 * would fail silently (ipcRenderer.invoke waits forever), so it lives here.
 */
export const IPC = {
  call: 'twinlens:call',
  cancel: 'twinlens:cancel',
  event: 'twinlens:event',
  host: 'twinlens:host',
  dropped: 'twinlens:dropped',
  pickPath: 'twinlens:pick-path',
  restartEngine: 'twinlens:restart-engine',
} as const;
