/**
 * The workbench window and the rules it lives under (Electron's security
 * checklist): context isolation, sandbox, no Node integration, the preload
 * as the only bridge; navigation away from app://twinlens refused; new
 * windows refused, with http(s) links handed to the system browser;
 * permission requests (camera, notifications, …) denied; <webview> refused.
 */
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { BrowserWindow, app, session, shell } from 'electron';
import { APP_URL, isAppUrl } from './protocol.js';
import { WINDOW_MIN_SIZE, loadWindowState, trackWindowState } from './window-state.js';

export function preloadPath(): string {
  return path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'preload', 'preload.cjs');
}

function isExternalHttp(url: string): boolean {
  try {
    const u = new URL(url);
    return u.protocol === 'https:' || u.protocol === 'http:';
  } catch {
    return false;
  }
}

/** Process-wide rules: call once, before any window exists. */
export function hardenSessions(): void {
  // Everything is denied except writing text to the clipboard (the answers' copy buttons): write-only,
  // nothing is read from the clipboard this way.
  session.defaultSession.setPermissionRequestHandler((_wc, permission, callback) => callback(permission === 'clipboard-sanitized-write'));
  session.defaultSession.setPermissionCheckHandler((_wc, permission) => permission === 'clipboard-sanitized-write');
  app.on('web-contents-created', (_e, contents) => {
    contents.on('will-attach-webview', (ev) => ev.preventDefault());
    contents.setWindowOpenHandler(({ url }) => {
      if (isExternalHttp(url)) void shell.openExternal(url);
      return { action: 'deny' };
    });
    const guard = (ev: { preventDefault(): void }, url: string) => {
      if (isAppUrl(url)) return;
      ev.preventDefault();
      if (isExternalHttp(url)) void shell.openExternal(url);
    };
    contents.on('will-navigate', (ev, url) => guard(ev, url));
    contents.on('will-redirect', (ev, url) => guard(ev, url));
  });
}

export function createMainWindow(): BrowserWindow {
  const state = loadWindowState();
  const win = new BrowserWindow({
    x: state.x,
    y: state.y,
    width: state.width,
    height: state.height,
    minWidth: WINDOW_MIN_SIZE.width,
    minHeight: WINDOW_MIN_SIZE.height,
    show: false,
    title: 'TwinLens',
    backgroundColor: '#12151b',
    webPreferences: {
      preload: preloadPath(),
      contextIsolation: true,
      sandbox: true,
      nodeIntegration: false,
      nodeIntegrationInWorker: false,
      webSecurity: true,
      allowRunningInsecureContent: false,
      webviewTag: false,
      spellcheck: false,
      devTools: !app.isPackaged,
    },
  });
  if (state.maximized) win.maximize();
  trackWindowState(win);
  win.once('ready-to-show', () => win.show());
  void win.loadURL(APP_URL);
  return win;
}
