/**
 * The Electron main process without an Electron binary: the compiled
 * dist/main modules are loaded under Node with a stand-in `electron` module
 * (test/e2e/electron-stub/), so the parts that carry the security and the
 * engine plumbing are exercised for real:
 * - the IPC broker: sender checks, schema parsing, envelopes, events, cancel;
 * - the utilityProcess transport: the real engine entry on the tiny pack,
 *   talking through `process.parentPort`, killed and restarted;
 * - the app:// protocol (CSP header, no path escapes) and the session rules
 *   (navigation, new windows, permissions).
 * The full desktop flow is electron.spec.ts, when a binary exists.
 */
import * as fs from 'node:fs';
import { register } from 'node:module';
import * as os from 'node:os';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import { FakeEngine } from './fake-engine.js';
import { PACK, ROOT, expect, test } from './fixtures.js';

register(pathToFileURL(path.join(ROOT, 'test', 'e2e', 'electron-stub', 'loader.mjs')).href);

const dist = (f: string) => import(pathToFileURL(path.join(ROOT, 'dist', f)).href);
const stub = (): Promise<any> => import(pathToFileURL(path.join(ROOT, 'test', 'e2e', 'electron-stub', 'electron.mjs')).href);

interface Sent {
  channel: string;
  payload: unknown;
}

function fakeWebContents(id: number) {
  const sent: Sent[] = [];
  return { id, sent, isDestroyed: () => false, send: (channel: string, payload: unknown) => sent.push({ channel, payload }) };
}

function eventFrom(sender: ReturnType<typeof fakeWebContents>, url = 'app://twinlens/index.html', parent: object | null = null) {
  return { sender, senderFrame: { url, parent } };
}

test.describe('IPC broker', () => {
  test('answers our window, refuses other senders, parses params, streams events, cancels', async () => {
    const { ipcMain } = await stub();
    const { IpcBroker } = await dist('main/ipc-broker.js');
    const { IPC } = await dist('shared/ipc.js');
    const fake = new FakeEngine();
    const win = fakeWebContents(1);
    const dropped: string[][] = [];
    const broker = new IpcBroker({ host: fake, trusted: () => win, onDropped: (p: string[]) => dropped.push(p) });
    const call = ipcMain.handlers.get(IPC.call);
    try {
      expect(await call(eventFrom(win), 'status', 'r1', {})).toMatchObject({ ok: true, result: { pid: 4242 } });

      // Untrusted: another web contents, a subframe, a page that navigated away.
      const other = fakeWebContents(2);
      for (const ev of [eventFrom(other), eventFrom(win, 'app://twinlens/index.html', {}), eventFrom(win, 'https://evil.example/')]) {
        expect(await call(ev, 'status', 'r2', {})).toMatchObject({
          ok: false,
          error: { code: 'INVALID_ARGUMENT', message: expect.stringContaining('untrusted') },
        });
      }
      expect(fake.calls.filter((c) => c.method === 'status')).toHaveLength(1);

      // Schema checks.
      expect(await call(eventFrom(win), 'openPack', 'r3', { dir: 42 })).toMatchObject({ ok: false, error: { code: 'INVALID_ARGUMENT' } });
      expect(await call(eventFrom(win), 'constructor', 'r4', {})).toMatchObject({ ok: false, error: { code: 'INVALID_ARGUMENT' } });
      expect(await call(eventFrom(win), 'status', 42, {})).toMatchObject({ ok: false, error: { code: 'INVALID_ARGUMENT' } });

      // Events go to the caller, tagged with its request id.
      const image = { bytes: new Uint8Array([1, 2, 3]), name: 'x.png' };
      const r = await call(eventFrom(win), 'ask', 'r5', { image, question: 'q?', modes: ['clip'] });
      expect(r).toMatchObject({ ok: true, result: { answers: { clip: { text: 'clip answer to q?' } } } });
      const tokens = win.sent.filter((s) => s.channel === IPC.event && (s.payload as { requestId: string }).requestId === 'r5');
      expect(tokens.length).toBeGreaterThan(3);

      // Cancel from the same window stops the call; from another window it is ignored.
      fake.tokenDelayMs = 200;
      const slow = call(eventFrom(win), 'ask', 'r6', { image, question: 'a slow one', modes: ['clip'] });
      await new Promise((res) => setTimeout(res, 100));
      ipcMain.emit(IPC.cancel, eventFrom(other), 'r6');
      ipcMain.emit(IPC.cancel, eventFrom(win), 'r6');
      expect(await slow).toMatchObject({ ok: true, result: { answers: { clip: { stop: 'cancelled' } } } });

      // Dropped paths: only from our window, only arrays of strings.
      ipcMain.emit(IPC.dropped, eventFrom(other), ['/tmp']);
      ipcMain.emit(IPC.dropped, eventFrom(win), [42]);
      ipcMain.emit(IPC.dropped, eventFrom(win), ['/tmp/pack']);
      expect(dropped).toEqual([['/tmp/pack']]);
    } finally {
      broker.dispose();
    }
    expect(ipcMain.handlers.has(IPC.call)).toBe(false);
  });
});

test.describe('desktop path grants', () => {
  test('refuses paths the user did not pick; a dialog pick or a drop grants them', async () => {
    const { ipcMain } = await stub();
    const { IpcBroker } = await dist('main/ipc-broker.js');
    const { desktopPathPolicy } = await dist('main/packs.js');
    const { IPC } = await dist('shared/ipc.js');
    const fake = new FakeEngine();
    const win = fakeWebContents(1);
    const outside = fs.mkdtempSync(path.join(os.tmpdir(), 'twinlens-grant-'));
    const picked = path.join(outside, 'good-picked-pack'); // the fake engine opens folders named good*
    const dropped = path.join(outside, 'good-dropped-pack');
    const picks: unknown[] = [];
    const paths = desktopPathPolicy(PACK);
    const broker = new IpcBroker({
      host: fake,
      trusted: () => win,
      onDropped: () => undefined,
      paths,
      pick: async (req: unknown) => {
        picks.push(req);
        return picked;
      },
    });
    const call = ipcMain.handlers.get(IPC.call);
    const pick = ipcMain.handlers.get(IPC.pickPath);
    try {
      // The startup pack and the checkout's built-in packs are allowed from the start.
      const startup = await call(eventFrom(win), 'openPack', 'g1', { dir: PACK });
      expect(startup.error?.code).not.toBe('PATH_NOT_ALLOWED');
      // A typed path outside them is refused before the engine sees it, with a hint to pick it.
      for (const [i, params] of [{ dir: picked }, { suite: path.join(outside, 'x.jsonl') }, { dir: '/etc' }].entries()) {
        const method = 'suite' in params ? 'evaluate' : 'openPack';
        const r = await call(eventFrom(win), method, `g2-${i}`, method === 'evaluate' ? { ...params, modes: ['clip'] } : params);
        expect(r, JSON.stringify(params)).toMatchObject({ ok: false, error: { code: 'PATH_NOT_ALLOWED', hint: expect.stringContaining('Browse') } });
      }
      expect(fake.calls.filter((c) => c.method === 'openPack')).toHaveLength(1);
      // A pick from another window or with a malformed request shows no dialog and grants nothing.
      expect(await pick(eventFrom(fakeWebContents(2)), { kind: 'directory' })).toBeUndefined();
      expect(await pick(eventFrom(win), { kind: 'anything' })).toBeUndefined();
      expect(picks).toHaveLength(0);
      // The dialog's choice is granted: the same call now reaches the engine.
      expect(await pick(eventFrom(win), { kind: 'directory', title: 'Choose a pack' })).toBe(picked);
      expect(picks).toEqual([{ kind: 'directory', title: 'Choose a pack' }]);
      expect(await call(eventFrom(win), 'openPack', 'g3', { dir: picked })).toMatchObject({ ok: true });
      expect(paths.allows(path.join(picked, 'pack.json'))).toBe(true);
      // A folder dropped on our window is granted too; one "dropped" by another window is not.
      ipcMain.emit(IPC.dropped, eventFrom(fakeWebContents(2)), [dropped]);
      expect(paths.allows(dropped)).toBe(false);
      ipcMain.emit(IPC.dropped, eventFrom(win), [dropped]);
      expect(await call(eventFrom(win), 'openPack', 'g4', { dir: dropped })).toMatchObject({ ok: true });
      // A link inside a granted folder cannot lead out of it.
      fs.mkdirSync(picked, { recursive: true });
      fs.symlinkSync('/etc', path.join(picked, 'escape'));
      expect(await call(eventFrom(win), 'openPack', 'g5', { dir: path.join(picked, 'escape') })).toMatchObject({
        ok: false,
        error: { code: 'PATH_NOT_ALLOWED' },
      });
    } finally {
      broker.dispose();
      fs.rmSync(outside, { recursive: true, force: true });
    }
    expect(ipcMain.handlers.has(IPC.pickPath)).toBe(false);
  });
});

test.describe('the real main process, --self-test', () => {
  test('dist/main/main.js under the strict stand-in answers a sample question in every mode of the built-in pack, from a read-only copy', async () => {
    test.setTimeout(180_000);
    const { spawn } = await import('node:child_process');
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'twinlens-selftest-'));
    fs.chmodSync(tmp, 0o755);
    try {
      // A read-only install: the pack belongs to root and the app runs as nobody (when this runs as root).
      const pack = path.join(tmp, 'resources', 'mini-world');
      fs.cpSync(path.join(ROOT, 'models', 'mini-world'), pack, { recursive: true, filter: (src) => !/\.twinlens-[0-9a-f]{16}\.onnx/.test(src) });
      const home = path.join(tmp, 'home');
      fs.mkdirSync(home);
      const asNobody = process.getuid?.() === 0;
      if (asNobody) fs.chownSync(home, 65534, 65534);
      const node = [
        process.execPath,
        '--import',
        path.join(ROOT, 'test', 'e2e', 'electron-stub', 'register.mjs'),
        path.join(ROOT, 'dist', 'main', 'main.js'),
        '--self-test',
      ];
      const cmd = asNobody ? ['setpriv', '--reuid', '65534', '--regid', '65534', '--clear-groups', ...node] : node;
      const child = spawn(cmd[0], cmd.slice(1), {
        cwd: tmp,
        env: {
          PATH: process.env.PATH ?? '/usr/bin:/bin',
          HOME: home,
          XDG_CACHE_HOME: path.join(home, '.cache'),
          ELECTRON_STUB_STRICT: '1',
          TWINLENS_PACK: pack,
          TWINLENS_USER_DATA: path.join(home, 'user-data'),
        },
      });
      let out = '';
      let err = '';
      child.stdout.on('data', (d: Buffer) => (out += d.toString()));
      child.stderr.on('data', (d: Buffer) => (err += d.toString()));
      const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
      const last = out.trim().split('\n').at(-1) ?? '';
      expect(last, err.slice(-2000)).toMatch(/^\{/);
      const r = JSON.parse(last);
      expect(r, `${last}\n${err.slice(-2000)}`).toMatchObject({ ok: true, pack: 'mini-world' });
      expect(Object.keys(r.answers).sort()).toEqual(['clip', 'diffusion', 'fused', 'fused-xattn']);
      expect(code).toBe(0);
      // nothing was written into the read-only pack
      expect(fs.readdirSync(path.join(pack, 'unet')).filter((f) => f.includes('.twinlens-'))).toEqual([]);
    } finally {
      fs.rmSync(tmp, { recursive: true, force: true });
    }
  });
});

test.describe('engine in a utilityProcess', () => {
  test('runs the real engine entry through parentPort, and restarts it after a kill', async () => {
    test.setTimeout(120_000);
    const { utilityProcess } = await stub();
    const { utilityProcessTransport, engineEntryFile } = await dist('main/utility-transport.js');
    const { EngineHost } = await dist('host/engine-host.js');
    expect(engineEntryFile()).toBe(path.join(ROOT, 'dist', 'engine', 'process', 'entry.js'));
    const host = new EngineHost({ packDir: PACK, provider: 'cpu', transportFactory: utilityProcessTransport() });
    try {
      const info = await host.call('packInfo', {});
      expect(info.name).toBe('tiny');
      expect(utilityProcess.forks.at(-1).opts.serviceName).toBe('TwinLens engine');
      expect(utilityProcess.forks.at(-1).args).toEqual(['--pack', PACK, '--provider', 'cpu']);
      const pid = host.pid;
      host.killProcess();
      await expect.poll(() => host.state.restarts, { timeout: 30_000 }).toBe(1);
      const status = await host.call('status', {});
      expect(status.pid).not.toBe(pid);
      expect(status.restarts).toBe(1);
    } finally {
      await host.dispose();
    }
  });
});

test.describe('window rules and app:// protocol', () => {
  test('serves dist/renderer with the CSP and nothing outside it', async () => {
    const { protocol } = await stub();
    const { serveRenderer, registerAppScheme, APP_URL } = await dist('main/protocol.js');
    registerAppScheme();
    expect(protocol.privileged).toEqual(
      expect.arrayContaining([expect.objectContaining({ scheme: 'app', privileges: expect.objectContaining({ standard: true, secure: true }) })]),
    );
    serveRenderer(path.join(ROOT, 'dist', 'renderer'));
    const handle = protocol.handlers.get('app');
    const index: Response = await handle(new Request(APP_URL));
    expect(index.status).toBe(200);
    expect(index.headers.get('content-security-policy')).toContain("script-src 'self'");
    expect(await index.text()).toContain('<div id="root">');
    for (const bad of [
      'app://twinlens/%2e%2e/%2e%2e/package.json',
      'app://twinlens/..%2f..%2fpackage.json',
      'app://other/index.html',
      'app://twinlens/missing.js',
    ]) {
      expect((await handle(new Request(bad))).status, bad).toBeGreaterThanOrEqual(400);
    }
  });

  test('blocks navigation and new windows, opens http(s) links in the browser, denies permissions', async () => {
    const { app, shell, session } = await stub();
    const { hardenSessions } = await dist('main/window.js');
    hardenSessions();
    const handlers: Record<string, (...a: unknown[]) => unknown> = {};
    let openHandler: (d: { url: string }) => { action: string } = () => ({ action: 'allow' });
    const contents = {
      on: (name: string, fn: (...a: unknown[]) => unknown) => (handlers[name] = fn),
      setWindowOpenHandler: (fn: typeof openHandler) => (openHandler = fn),
    };
    app.emit('web-contents-created', {}, contents);

    const nav = (url: string) => {
      let prevented = false;
      handlers['will-navigate']({ preventDefault: () => (prevented = true) }, url);
      return prevented;
    };
    expect(nav('app://twinlens/index.html')).toBe(false);
    expect(nav('https://example.org/paper')).toBe(true);
    expect(nav('file:///etc/passwd')).toBe(true);
    expect(shell.opened).toEqual(['https://example.org/paper']);
    expect(openHandler({ url: 'https://example.org/x' })).toEqual({ action: 'deny' });
    expect(openHandler({ url: 'javascript:alert(1)' })).toEqual({ action: 'deny' });
    expect(shell.opened).toEqual(['https://example.org/paper', 'https://example.org/x']);
    let attached = true;
    handlers['will-attach-webview']({ preventDefault: () => (attached = false) });
    expect(attached).toBe(false);
    let granted: boolean | undefined;
    for (const p of ['media', 'geolocation', 'notifications', 'clipboard-read']) {
      session.defaultSession.permissionRequestHandler({}, p, (ok: boolean) => (granted = ok));
      expect(granted, p).toBe(false);
      expect(session.defaultSession.permissionCheckHandler({}, p), p).toBe(false);
    }
    // the one exception: the copy buttons write answers to the clipboard
    session.defaultSession.permissionRequestHandler({}, 'clipboard-sanitized-write', (ok: boolean) => (granted = ok));
    expect(granted).toBe(true);
  });
});

test.describe('main window', () => {
  test('is created with the hardened webPreferences and loads only the app:// page', async () => {
    const { BrowserWindow } = await stub();
    const { createMainWindow } = await dist('main/window.js');
    createMainWindow();
    const win = BrowserWindow.created.at(-1);
    expect(win.options.webPreferences).toMatchObject({
      contextIsolation: true,
      sandbox: true,
      nodeIntegration: false,
      nodeIntegrationInWorker: false,
      webSecurity: true,
      allowRunningInsecureContent: false,
      webviewTag: false,
    });
    expect(win.options.webPreferences.preload).toMatch(/preload\.cjs$/);
    expect(win.url).toMatch(/^app:\/\/twinlens\//);
  });
});
