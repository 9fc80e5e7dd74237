// A stand-in for the `electron` module, so the compiled main-process code
// (dist/main) can be exercised under plain Node where no Electron binary
// exists. Only what src/main touches is modelled; every object records what
// was done to it. utilityProcess.fork runs the real engine entry as a Node
// child behind a `process.parentPort` shim (utility-shim.mjs).
import { fork as forkChild } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { setImmediate } from 'node:timers';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));

class IpcMain extends EventEmitter {
  handlers = new Map();
  handle(channel, fn) {
    if (this.handlers.has(channel)) throw new Error(`second handler for ${channel}`);
    this.handlers.set(channel, fn);
  }
  removeHandler(channel) {
    this.handlers.delete(channel);
  }
}
export const ipcMain = new IpcMain();

export const utilityProcess = {
  forks: [],
  fork(modulePath, args = [], opts = {}) {
    const child = forkChild(path.join(here, 'utility-shim.mjs'), [modulePath, ...args], {
      serialization: 'advanced',
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      env: opts.env,
      execArgv: opts.execArgv ?? [],
    });
    const proc = new EventEmitter();
    Object.defineProperty(proc, 'pid', { get: () => child.pid });
    proc.postMessage = (m) => child.connected && child.send(m);
    proc.kill = () => child.kill('SIGKILL');
    child.on('spawn', () => proc.emit('spawn'));
    child.on('message', (m) => proc.emit('message', m));
    // Like Electron, report only a code (a killed child gets a non-zero one).
    child.on('exit', (code, signal) => proc.emit('exit', code ?? (signal ? 1 : 0)));
    this.forks.push({ modulePath, args, opts, proc });
    return proc;
  },
};

// ELECTRON_STUB_STRICT=1 (a child process running the real dist/main/main.js): Electron's lifecycle
// rules are enforced — schemes registered before ready, protocols, sessions and windows only after it.
const strict = process.env.ELECTRON_STUB_STRICT === '1';
function requireReady(what) {
  if (strict && !app.ready) throw new Error(`electron stand-in: ${what} before the app is ready`);
}

// ELECTRON_STUB_RESOURCES=<dir>: behave as a packaged app whose resources folder is <dir>.
if (process.env.ELECTRON_STUB_RESOURCES) process.resourcesPath = process.env.ELECTRON_STUB_RESOURCES;

class App extends EventEmitter {
  isPackaged = !!process.env.ELECTRON_STUB_RESOURCES;
  ready = false;
  paths = new Map();
  #readyPromise;
  whenReady() {
    // Like Electron, the app becomes ready by itself shortly after startup.
    this.#readyPromise ??= new Promise((resolve) =>
      setImmediate(() => {
        this.ready = true;
        this.emit('ready');
        resolve();
      }),
    );
    return this.#readyPromise;
  }
  isReady() {
    return this.ready;
  }
  requestSingleInstanceLock() {
    return true;
  }
  setAboutPanelOptions() {}
  quit() {
    this.emit('before-quit', { preventDefault() {} });
    process.exit(0);
  }
  exit(code = 0) {
    process.exit(code);
  }
  getPath(name) {
    return this.paths.get(name) ?? path.join(here, '.user-data');
  }
  setPath(name, p) {
    this.paths.set(name, p);
  }
  getAppPath() {
    return path.resolve(here, '..', '..', '..');
  }
  getVersion() {
    return '0.0.0-stub';
  }
}
export const app = new App();

export const protocol = {
  privileged: [],
  handlers: new Map(),
  registerSchemesAsPrivileged(list) {
    if (strict && app.ready) throw new Error('electron stand-in: protocol.registerSchemesAsPrivileged after ready');
    this.privileged.push(...list);
  },
  handle(scheme, fn) {
    requireReady('protocol.handle');
    this.handlers.set(scheme, fn);
  },
};

export const shell = {
  opened: [],
  async openExternal(url) {
    this.opened.push(url);
  },
};

const defaultSession = {
  permissionRequestHandler: undefined,
  permissionCheckHandler: undefined,
  setPermissionRequestHandler(fn) {
    requireReady('session.setPermissionRequestHandler');
    this.permissionRequestHandler = fn;
  },
  setPermissionCheckHandler(fn) {
    this.permissionCheckHandler = fn;
  },
};
export const session = { defaultSession };

export const screen = { getAllDisplays: () => [{ workArea: { x: 0, y: 0, width: 1920, height: 1080 } }] };
export const dialog = { showOpenDialog: async () => ({ canceled: true, filePaths: [] }) };
export const Menu = { buildFromTemplate: (t) => ({ template: t }), setApplicationMenu() {} };
export class BrowserWindow extends EventEmitter {
  /** Every window created, with the options it was given (the tests read webPreferences). */
  static created = [];
  constructor(options = {}) {
    super();
    requireReady('new BrowserWindow');
    this.options = options;
    this.webContents = new EventEmitter();
    BrowserWindow.created.push(this);
  }
  static getAllWindows() {
    return [];
  }
  maximize() {}
  show() {}
  isDestroyed() {
    return false;
  }
  isMaximized() {
    return false;
  }
  getNormalBounds() {
    return { x: 0, y: 0, width: 1280, height: 800 };
  }
  loadURL(url) {
    this.url = url;
    return Promise.resolve();
  }
}

export default { ipcMain, utilityProcess, app, protocol, shell, session, screen, dialog, Menu, BrowserWindow };
