/**
 * Entry point of the desktop app (`npm start` → electron . → dist/main/main.js).
 *
 * The main process owns the window, the menu, the dialogs and the engine
 * process, and never runs a model: the engine runs in a utilityProcess
 * (engine-transport.ts), watched and restarted by EngineHost/EngineClient,
 * while the IPC broker passes the contract between the window and it.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { type BrowserWindow, Menu, app, dialog } from 'electron';
import { toTwinLensError } from '../shared/errors.js';
import { IPC } from '../shared/ipc.js';
import { EngineHost } from '../host/engine-host.js';
import { utilityProcessTransport } from './utility-transport.js';
import { IpcBroker, type PickPathOptions } from './ipc-broker.js';
import { buildMenu } from './menu.js';
import { chooseStartupPack, classifyDropped, desktopPathPolicy, rememberPack, userPacksDir } from './packs.js';
import { registerAppScheme, serveRenderer } from './protocol.js';
import type { PathPolicy } from '../host/path-policy.js';
import { ReloadBackoff } from './reload-backoff.js';
import { runSelfTest } from './self-test.js';
import { createMainWindow, hardenSessions } from './window.js';

const MAX_IMAGE_BYTES = 64 * 1024 * 1024;
/** No window: answer one sample question in every mode, print one JSON line, exit 0/1 (self-test.ts). */
const SELF_TEST = process.argv.includes('--self-test') || process.env.TWINLENS_SELF_TEST === '1';
const rendererDir = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'renderer');

// Tests and portable setups may point the profile (window state, history, last pack) elsewhere.
if (process.env.TWINLENS_USER_DATA) app.setPath('userData', path.resolve(process.env.TWINLENS_USER_DATA));
registerAppScheme();
if (!app.requestSingleInstanceLock()) app.quit();

let win: BrowserWindow | undefined;
let host: EngineHost | undefined;
let broker: IpcBroker | undefined;
let paths: PathPolicy | undefined;

/** Host events to the page (engine state, menu commands, opened images and packs). */
function toPage(event: object): void {
  if (win && !win.isDestroyed()) win.webContents.send(IPC.host, event);
}

async function openImageDialog(): Promise<void> {
  if (!win) return;
  const r = await dialog.showOpenDialog(win, {
    title: 'Open Image',
    properties: ['openFile'],
    filters: [{ name: 'Images', extensions: ['png', 'jpg', 'jpeg', 'webp', 'gif', 'bmp', 'tif', 'tiff', 'avif'] }],
  });
  const file = r.filePaths[0];
  if (r.canceled || !file) return;
  try {
    const stat = await fs.promises.stat(file);
    if (stat.size > MAX_IMAGE_BYTES) throw new Error('larger than 64 MB');
    const buf = await fs.promises.readFile(file);
    toPage({ type: 'image', image: { bytes: new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength), name: path.basename(file) } });
  } catch (e) {
    toPage({ type: 'notice', level: 'error', message: `Cannot open ${file}: ${(e as Error).message}` });
  }
}

async function openPack(dir: string): Promise<void> {
  if (!host) return;
  try {
    const pack = await host.call('openPack', { dir });
    rememberPack(dir);
    toPage({ type: 'pack', pack });
  } catch (e) {
    toPage({ type: 'notice', level: 'error', message: `Cannot open pack ${dir}: ${toTwinLensError(e).oneLine()}` });
  }
}

async function openPackDialog(): Promise<void> {
  if (!win) return;
  const r = await dialog.showOpenDialog(win, {
    title: 'Open Model Pack (a folder with pack.json)',
    defaultPath: userPacksDir(),
    properties: ['openDirectory'],
  });
  if (r.canceled || !r.filePaths[0]) return;
  paths?.grant(r.filePaths[0]);
  await openPack(r.filePaths[0]);
}

/** The page's Browse… buttons: the system dialog; the broker grants what is chosen. */
async function pickPath(req: PickPathOptions): Promise<string | undefined> {
  if (!win) return undefined;
  if (req.kind === 'save') {
    const r = await dialog.showSaveDialog(win, { title: req.title, ...(req.filters ? { filters: req.filters } : {}) });
    return r.canceled ? undefined : r.filePath || undefined;
  }
  const r = await dialog.showOpenDialog(win, {
    title: req.title,
    properties: [req.kind === 'directory' ? 'openDirectory' : 'openFile'],
    ...(req.filters ? { filters: req.filters } : {}),
  });
  return r.canceled ? undefined : r.filePaths[0];
}

function onDropped(paths: string[]): void {
  const { packs, notPacks } = classifyDropped(paths);
  if (packs[0]) void openPack(packs[0]);
  for (const p of notPacks) toPage({ type: 'notice', level: 'error', message: `${p} is not a model pack (no pack.json)` });
}

const reloads = new ReloadBackoff();

function createWindow(): void {
  win = createMainWindow();
  const wc = win.webContents;
  // A fresh page learns the engine's state at once, then follows its changes.
  wc.on('did-finish-load', () => host && toPage({ type: 'engine', engine: host.state }));
  // Calls of a page that reloads or dies are cancelled; a crashed renderer is reloaded.
  wc.on('did-start-navigation', (_e, _url, _inPlace, isMainFrame) => isMainFrame && broker?.cancelAll());
  wc.on('render-process-gone', (_e, details) => {
    broker?.cancelAll();
    if (details.reason === 'clean-exit' || !win || win.isDestroyed()) return;
    const delay = reloads.next(Date.now());
    if (delay === undefined) {
      dialog.showErrorBox(
        'TwinLens',
        `The window crashed ${reloads.count} times within a minute (${details.reason}) and was not reloaded again. Restart TwinLens; if it keeps happening, report it with the log.`,
      );
      return;
    }
    setTimeout(() => win && !win.isDestroyed() && win.reload(), delay);
  });
  win.on('closed', () => {
    broker?.cancelAll();
    win = undefined;
  });
}

app.on('second-instance', () => {
  if (!win) return;
  if (win.isMinimized()) win.restore();
  win.focus();
});

async function selfTest(): Promise<void> {
  hardenSessions();
  const packDir = chooseStartupPack();
  host = new EngineHost({ packDir, transportFactory: utilityProcessTransport() });
  const result = await runSelfTest(host);
  process.stdout.write(`${JSON.stringify(result)}\n`);
  await host.dispose().catch(() => undefined);
  host = undefined;
  app.exit(result.ok ? 0 : 1);
}

app.whenReady().then(() => {
  if (SELF_TEST) return void selfTest();
  hardenSessions();
  serveRenderer(rendererDir);
  const packDir = chooseStartupPack();
  host = new EngineHost({ packDir, transportFactory: utilityProcessTransport() });
  host.onState((engine) => toPage({ type: 'engine', engine }));
  void host.start().catch(() => undefined);
  paths = desktopPathPolicy(packDir);
  broker = new IpcBroker({
    host,
    trusted: () => win?.webContents,
    onDropped,
    paths,
    pick: pickPath,
    onOpenedPack: rememberPack,
    restart: (provider) =>
      void host?.restart(provider ? { provider } : {}).catch((e) => toPage({ type: 'notice', level: 'error', message: toTwinLensError(e).oneLine() })),
  });
  app.setAboutPanelOptions({ applicationName: 'TwinLens', applicationVersion: app.getVersion() });
  createWindow();
  const menu = buildMenu({
    openImage: () => void openImageDialog(),
    openPack: () => void openPackDialog(),
    exportResults: () => toPage({ type: 'command', command: 'export' }),
    reloadEngine: () => void host?.restart().catch((e) => toPage({ type: 'notice', level: 'error', message: toTwinLensError(e).oneLine() })),
    command: (command) => toPage({ type: 'command', command }),
    toggleDevTools: () => win?.webContents.toggleDevTools(),
  });
  Menu.setApplicationMenu(menu);
  app.on('activate', () => {
    if (!win) createWindow();
  });
});

app.on('window-all-closed', () => {
  if (process.platform !== 'darwin') app.quit();
});

let quitting = false;
app.on('before-quit', (e) => {
  if (quitting || !host) return;
  // Let the engine shut down cleanly (it may be mid-run), then quit for real.
  e.preventDefault();
  quitting = true;
  broker?.dispose();
  void host.dispose().finally(() => app.quit());
});
