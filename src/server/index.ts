/**
 * Web mode: the workbench in a browser, like Jupyter's or Netron's server
 * mode. One Node HTTP server serves the built renderer and carries the
 * contract over a WebSocket at /ws; the engine runs in its own child process
 * (EngineHost), never in this one, so the server stays responsive while ONNX
 * Runtime blocks its thread.
 *
 * Bound to 127.0.0.1 unless told otherwise, and every request must pass the
 * Guard (Host, Origin, per-run token). `startServer` is what `twinlens serve`
 * (src/cli) and the e2e tests call; src/server/main.ts is a thin command.
 */
import { spawn } from 'node:child_process';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as path from 'node:path';
import { defaultCacheDir } from '../engine/hub/cache.js';
import type { Duplex } from 'node:stream';
import { WebSocketServer } from 'ws';
import { EngineHost } from '../host/engine-host.js';
import { Guard, newToken } from './guard.js';
import { builtInPackDirs, packageRoot } from '../host/default-pack.js';
import { PathPolicy } from '../host/path-policy.js';
import { StaticFiles, securityHeaders } from './static-files.js';
import { type BrokerHost, WsBroker } from './ws-broker.js';

export interface ServerOptions {
  /** 0 = any free port. Default 7860. */
  port?: number;
  /** Default 127.0.0.1. Use 0.0.0.0 to reach a remote GPU box (the token still applies). */
  host?: string;
  packDir?: string;
  provider?: string;
  cacheDir?: string;
  /** Open the URL in the system browser once listening. */
  open?: boolean;
  /** Host names accepted besides IP literals and localhost (DNS rebinding protection). */
  allowedHosts?: string[];
  /** Fixed token (default: random per run). */
  token?: string;
  /** Built renderer folder (default: dist/renderer under the package root). */
  rendererDir?: string;
  /**
   * Folders a browser's calls may read and write (images, suites, packs, composePack's output).
   * Default: the pack folder, the built-in packs and the current directory. See path-policy.ts.
   */
  roots?: string[];
  /** Use this engine instead of starting one (tests). */
  engine?: BrokerHost & { dispose(): Promise<void> };
}

export interface ServerHandle {
  url: string;
  /** The folders calls may name (resolved). */
  roots: string[];
  token: string;
  port: number;
  /** The engine host (status, killProcess for diagnostics and tests). */
  engine: BrokerHost & { dispose(): Promise<void>; killProcess?(): void; readonly pid?: number };
  close(): Promise<void>;
}

const MAX_MESSAGE_BYTES = 128 * 1024 * 1024;

function reject(socket: Duplex, status: number, reason: string): void {
  const text = status === 401 ? 'Unauthorized' : status === 404 ? 'Not Found' : 'Forbidden';
  socket.end(`HTTP/1.1 ${status} ${text}\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n\r\n${reason}\n`);
}

/** The pack in use, the built-in packs and the current directory. */
function defaultRoots(packDir?: string): string[] {
  return [...(packDir ? [packDir] : []), ...builtInPackDirs(), process.cwd()];
}

export async function startServer(opts: ServerOptions = {}): Promise<ServerHandle> {
  const host = opts.host ?? '127.0.0.1';
  const token = opts.token ?? newToken();
  const files = new StaticFiles(opts.rendererDir ?? path.join(packageRoot(), 'dist', 'renderer'));
  const engine = opts.engine ?? new EngineHost({ packDir: opts.packDir, provider: opts.provider, cacheDir: opts.cacheDir });
  // Models → Get models downloads into the hub cache and composes packs beside it: that folder is always readable.
  const paths = new PathPolicy([...(opts.roots?.length ? opts.roots : defaultRoots(opts.packDir)), path.dirname(defaultCacheDir())]);
  // Start the engine now, but do not wait: the page loads while models load, and shows the progress.
  if (engine instanceof EngineHost) void engine.start().catch(() => undefined);

  // Created once listening: the token cookie's name carries the actual port (port 0 = any).
  const ready: { guard?: Guard } = {};
  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const g = ready.guard;
    if (!g) {
      res.writeHead(503).end();
      return;
    }
    if (url.pathname === '/healthz' && g.hostAllowed(req.headers.host)) {
      res.writeHead(200, { 'Content-Type': 'text/plain' }).end('ok\n');
      return;
    }
    const verdict = g.check(req, url);
    if (!verdict.ok) {
      res.writeHead(verdict.status, { 'Content-Type': 'text/plain; charset=utf-8', ...securityHeaders() }).end(verdict.reason + '\n');
      return;
    }
    if (url.searchParams.has('token')) {
      // Trade the token in the URL for a cookie, and drop it from the address bar (and from history).
      url.searchParams.delete('token');
      res.writeHead(302, { 'Set-Cookie': g.cookieHeader(), Location: url.pathname + url.search, ...securityHeaders() }).end();
      return;
    }
    files.serve(req, res, url.pathname);
  });

  const wss = new WebSocketServer({ noServer: true, maxPayload: MAX_MESSAGE_BYTES, perMessageDeflate: false });
  const brokers = new Set<WsBroker>();
  server.on('upgrade', (req, socket, head) => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    if (url.pathname !== '/ws') return reject(socket, 404, 'Not found');
    if (!ready.guard) return reject(socket, 403, 'Starting');
    const verdict = ready.guard.check(req, url, { requireOrigin: true });
    if (!verdict.ok) return reject(socket, verdict.status, verdict.reason);
    wss.handleUpgrade(req, socket, head, (ws) => {
      const broker = new WsBroker(ws, engine, {
        provider: opts.provider,
        paths,
        // One engine serves every tab: the others learn about a pack switch at once.
        onPackOpened: (pack, from) => brokers.forEach((b) => b !== from && b.packChanged(pack)),
      });
      brokers.add(broker);
      ws.on('close', () => brokers.delete(broker));
    });
  });

  await new Promise<void>((resolve, rejectListen) => {
    server.once('error', rejectListen);
    server.listen(opts.port ?? 7860, host, () => {
      server.off('error', rejectListen);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  ready.guard = new Guard({ token, port, bindHost: host, allowedHosts: opts.allowedHosts });

  const shownHost = host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host.includes(':') ? `[${host}]` : host;
  const url = `http://${shownHost}:${port}/?token=${token}`;
  if (opts.open) openInBrowser(url);

  let closing: Promise<void> | undefined;
  return {
    url,
    roots: [...paths.roots],
    token,
    port,
    engine,
    close() {
      closing ??= (async () => {
        for (const b of brokers) b.close();
        for (const ws of wss.clients) ws.terminate();
        wss.close();
        server.closeAllConnections();
        await new Promise<void>((resolve) => server.close(() => resolve()));
        await engine.dispose();
      })();
      return closing;
    },
  };
}

/** Best effort: the URL is printed anyway. */
function openInBrowser(url: string): void {
  const cmd = process.platform === 'darwin' ? 'open' : process.platform === 'win32' ? 'cmd' : 'xdg-open';
  const args = process.platform === 'win32' ? ['/c', 'start', '', url] : [url];
  try {
    const child = spawn(cmd, args, { stdio: 'ignore', detached: true });
    child.on('error', () => undefined);
    child.unref();
  } catch {
    /* no browser here: the printed URL is enough */
  }
}

export { EngineHost } from '../host/engine-host.js';
export { resolveDefaultPack } from '../host/default-pack.js';
