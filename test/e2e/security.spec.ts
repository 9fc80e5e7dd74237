/**
 * Security of both hosts, checked without an Electron binary:
 * - the renderer page has no Node (`require`, `process`, `Buffer`…) and runs
 *   under the strict CSP (no eval, no inline script);
 * - the preload exposes exactly one function per contract method plus
 *   cancel/subscribe (the real esbuild bundle, loaded with a fake `electron`);
 * - the web server refuses a missing/wrong token, a foreign Host (DNS
 *   rebinding), a foreign Origin, and forged calls with bad arguments.
 */
import * as fs from 'node:fs';
import { createRequire } from 'node:module';
import * as path from 'node:path';
import * as vm from 'node:vm';
import { WebSocket } from 'ws';
import { CONTRACT_METHODS } from '../../src/shared/contract.js';
import { IPC, PRELOAD_EXTRA_KEYS, createPreloadApi } from '../../src/preload/api.js';
import { ROOT, expect, test } from './fixtures.js';

test.describe('renderer sandbox', () => {
  test('has no Node globals and obeys the CSP', async ({ app }) => {
    const globals = await app.evaluate(() => ({
      require: typeof (window as unknown as { require?: unknown }).require,
      process: typeof (window as unknown as { process?: unknown }).process,
      module: typeof (window as unknown as { module?: unknown }).module,
      Buffer: typeof (window as unknown as { Buffer?: unknown }).Buffer,
      global: typeof (window as unknown as { global?: unknown }).global,
    }));
    expect(globals).toEqual({ require: 'undefined', process: 'undefined', module: 'undefined', Buffer: 'undefined', global: 'undefined' });
    // (eval cannot be probed from page.evaluate, which DevTools runs outside the page's CSP.)
    const inlineRan = await app.evaluate(async () => {
      const s = document.createElement('script');
      s.textContent = 'window.__inline = 1';
      document.body.appendChild(s);
      await new Promise((r) => setTimeout(r, 50));
      return (window as unknown as { __inline?: number }).__inline === 1;
    });
    expect(inlineRan).toBe(false);
  });
});

test.describe('preload API', () => {
  const expected = [...CONTRACT_METHODS, ...PRELOAD_EXTRA_KEYS].sort();

  test('createPreloadApi exposes exactly the contract methods + cancel/subscribe', async () => {
    const sent: unknown[][] = [];
    const api = createPreloadApi({
      invoke: async (...args) => {
        sent.push(args);
        return { ok: true, result: 'x' };
      },
      send: (...args) => sent.push(args),
      on: () => undefined,
      removeListener: () => undefined,
    });
    expect(Object.keys(api).sort()).toEqual(expected);
    expect(Object.isFrozen(api)).toBe(true);
    for (const k of Object.keys(api)) expect(typeof (api as unknown as Record<string, unknown>)[k]).toBe('function');
    await api.status({});
    expect(sent[0].slice(0, 2)).toEqual([IPC.call, 'status']);
  });

  test('routes events by request id and replays the engine state to late subscribers', async () => {
    const listeners = new Map<string, Array<(e: unknown, p: unknown) => void>>();
    const emit = (channel: string, payload: unknown) => listeners.get(channel)?.forEach((l) => l({}, payload));
    let invoked: unknown[] = [];
    const api = createPreloadApi({
      invoke: async (...args) => {
        invoked = args;
        emit(IPC.event, { requestId: args[2], event: { type: 'token', mode: 'clip', text: 'hi', tokenId: 1 } });
        emit(IPC.event, { requestId: 'someone-else', event: { type: 'token', mode: 'clip', text: 'NO', tokenId: 2 } });
        return { ok: true, result: {} };
      },
      send: () => undefined,
      on: (channel, l) => listeners.set(channel, [...(listeners.get(channel) ?? []), l]),
      removeListener: (channel, l) =>
        listeners.set(
          channel,
          (listeners.get(channel) ?? []).filter((x) => x !== l),
        ),
    });
    const seen: unknown[] = [];
    await api.ask({ image: { path: '/x.png' }, question: 'q' }, { requestId: 'mine', onEvent: (e) => seen.push(e) });
    expect(invoked.slice(0, 3)).toEqual([IPC.call, 'ask', 'mine']);
    expect(seen).toEqual([{ type: 'token', mode: 'clip', text: 'hi', tokenId: 1 }]);

    emit(IPC.host, { type: 'engine', engine: { state: 'ready', restarts: 0 } });
    const host: unknown[] = [];
    const off = api.subscribe((e) => host.push(e));
    await Promise.resolve();
    expect(host).toEqual([{ type: 'engine', engine: { state: 'ready', restarts: 0 } }]);
    off();
    emit(IPC.host, { type: 'command', command: 'stop' });
    expect(host).toHaveLength(1);
  });

  test('the built preload bundle exposes only window.twinlens with those keys', async () => {
    const bundle = path.join(ROOT, 'dist', 'preload', 'preload.cjs');
    test.skip(!fs.existsSync(bundle), 'dist/preload/preload.cjs not built');
    const exposed: Record<string, unknown> = {};
    const fakeElectron = {
      contextBridge: { exposeInMainWorld: (name: string, value: unknown) => (exposed[name] = value) },
      ipcRenderer: { invoke: async () => ({ ok: true }), send: () => undefined, on: () => undefined, removeListener: () => undefined },
      webUtils: { getPathForFile: () => '' },
    };
    const req = createRequire(bundle);
    const sandbox = {
      require: (m: string) => (m === 'electron' ? fakeElectron : req(m)),
      module: { exports: {} },
      window: { addEventListener: () => undefined },
      console,
    };
    vm.runInNewContext(`(function (require, module, exports) {${fs.readFileSync(bundle, 'utf8')}\n})(require, module, module.exports)`, sandbox);
    expect(Object.keys(exposed)).toEqual(['twinlens']);
    expect(Object.keys(exposed.twinlens as object).sort()).toEqual(expected);
  });
});

test.describe('web server', () => {
  const wsUrl = (server: { port: number }) => `ws://127.0.0.1:${server.port}/ws`;

  /** Resolve with the HTTP status of a refused upgrade, or 101 when it opened. */
  function upgradeStatus(url: string, opts: ConstructorParameters<typeof WebSocket>[2] = {}): Promise<number> {
    return new Promise((resolve) => {
      const ws = new WebSocket(url, opts);
      ws.on('open', () => {
        ws.close();
        resolve(101);
      });
      ws.on('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
      ws.on('error', () => resolve(-1));
    });
  }

  function rpc(ws: WebSocket, msg: object): Promise<{ type: string; id: string; error?: { code: string; message: string }; result?: unknown }> {
    return new Promise((resolve) => {
      const onMessage = (data: Buffer, isBinary: boolean) => {
        if (isBinary) return;
        const m = JSON.parse(data.toString());
        if (m.type === 'result' || m.type === 'error') {
          ws.off('message', onMessage);
          resolve(m);
        }
      };
      ws.on('message', onMessage);
      ws.send(JSON.stringify(msg));
    });
  }

  test('binds to 127.0.0.1 and prints a URL with the token', async ({ server }) => {
    expect(server.url).toMatch(new RegExp(`^http://127\\.0\\.0\\.1:${server.port}/\\?token=[\\w-]{20,}$`));
  });

  test('refuses HTTP without the token, with a wrong token, or with a foreign Host', async ({ server, request }) => {
    const base = `http://127.0.0.1:${server.port}`;
    expect((await request.get(`${base}/`, { maxRedirects: 0 })).status()).toBe(401);
    expect((await request.get(`${base}/?token=wrong`, { maxRedirects: 0 })).status()).toBe(401);
    expect((await request.get(`${base}/`, { headers: { Authorization: `Bearer ${server.token}` } })).status()).toBe(200);
    const rebound = await request.get(`${base}/`, { headers: { Authorization: `Bearer ${server.token}`, Host: `evil.example:${server.port}` } });
    expect(rebound.status()).toBe(403);
    const first = await request.get(server.url, { maxRedirects: 0 });
    expect(first.status()).toBe(302);
    expect(first.headers()['set-cookie']).toMatch(/HttpOnly; SameSite=Strict/);
    expect(first.headers()['content-security-policy']).toContain("script-src 'self'");
  });

  test('refuses WebSocket upgrades without the token, from a foreign Origin or Host', async ({ server }) => {
    const auth = { Authorization: `Bearer ${server.token}` };
    expect(await upgradeStatus(wsUrl(server))).toBe(401);
    expect(await upgradeStatus(wsUrl(server), { headers: { Authorization: 'Bearer nope' } })).toBe(401);
    expect(await upgradeStatus(wsUrl(server), { headers: auth, origin: 'http://evil.example' })).toBe(403);
    expect(await upgradeStatus(wsUrl(server), { headers: { ...auth, Host: `evil.example:${server.port}` } })).toBe(403);
    expect(await upgradeStatus(wsUrl(server), { headers: auth, origin: `http://127.0.0.1:${server.port}` })).toBe(101);
  });

  test('refuses paths outside its roots without revealing what is there', async ({ server }) => {
    const ws = new WebSocket(wsUrl(server), { headers: { Authorization: `Bearer ${server.token}` } });
    await new Promise((r, j) => {
      ws.once('open', r);
      ws.once('error', j);
    });
    const secret = fs.readFileSync('/etc/passwd', 'utf8').split('\n')[0];
    try {
      const calls: Array<[string, object]> = [
        ['evaluate', { suite: '/etc/passwd', modes: ['clip'] }],
        ['leakage', { suite: '/etc/passwd' }],
        ['ask', { image: { path: '/etc/passwd' }, question: 'what colour is the circle' }],
        ['features', { image: { path: '/etc/hostname' } }],
        ['visualize', { images: [{ path: '/etc/passwd' }] }],
        ['openPack', { dir: '/etc' }],
        ['estimate', { dir: '/etc' }],
        ['composePack', { sd: path.join(ROOT, 'test', 'fixtures', 'families', 'sd15-diffusers'), out: '/etc/twinlens-pack' }],
        // a relative path that climbs out of the roots is resolved before the check
        ['evaluate', { suite: '../../../../../../etc/passwd', modes: ['clip'] }],
      ];
      for (const [i, [method, params]] of calls.entries()) {
        const r = await rpc(ws, { type: 'call', id: `p${i}`, method, params });
        expect(r.type, `${method} ${JSON.stringify(params)}`).toBe('error');
        expect(r.error?.code, method).toBe('PATH_NOT_ALLOWED');
        expect(r.error?.message).not.toContain(secret);
        expect(r.error?.message).not.toContain('root:');
      }
      expect(fs.existsSync('/etc/twinlens-pack')).toBe(false);
      // inside the roots, the same calls go through
      const ok = await rpc(ws, { type: 'call', id: 'in', method: 'estimate', params: { dir: path.join(ROOT, 'test', 'fixtures', 'packs', 'tiny') } });
      expect(ok.type, JSON.stringify(ok.error)).toBe('result');
    } finally {
      ws.close();
    }
  });

  test('refuses forged calls: bad arguments, unknown methods, malformed frames', async ({ server }) => {
    const ws = new WebSocket(wsUrl(server), { headers: { Authorization: `Bearer ${server.token}` } });
    await new Promise((r, j) => {
      ws.once('open', r);
      ws.once('error', j);
    });
    try {
      const badAsk = await rpc(ws, { type: 'call', id: 'a', method: 'ask', params: { image: { path: '' }, question: 42 } });
      expect(badAsk.type).toBe('error');
      expect(badAsk.error?.code).toBe('INVALID_ARGUMENT');
      const badPack = await rpc(ws, { type: 'call', id: 'b', method: 'openPack', params: { dir: 7 } });
      expect(badPack.error?.code).toBe('INVALID_ARGUMENT');
      const unknown = await rpc(ws, { type: 'call', id: 'c', method: 'runShell', params: { cmd: 'id' } });
      expect(unknown.error?.code).toBe('INVALID_ARGUMENT');
      expect(unknown.error?.message).toContain('Unknown method');
      const proto = await rpc(ws, { type: 'call', id: 'd', method: '__proto__', params: {} });
      expect(proto.error?.code).toBe('INVALID_ARGUMENT');
      const forgedBinary = await rpc(ws, {
        type: 'call',
        id: 'e',
        method: 'ask',
        params: { image: { bytes: { __tlbin: 0, type: 'Uint8Array', offset: 0, byteLength: 4 } }, question: 'q' },
      });
      expect(forgedBinary.error?.code).toBe('INVALID_ARGUMENT');
      const ok = await rpc(ws, { type: 'call', id: 'f', method: 'status', params: {} });
      expect(ok.type).toBe('result');
    } finally {
      ws.close();
    }
  });
});
