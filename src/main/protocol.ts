/**
 * The renderer's origin in the desktop app: app://twinlens/, a privileged
 * custom scheme instead of file://. It gives the page a real, stable origin
 * (localStorage, module scripts), serves only files inside dist/renderer,
 * and attaches the same Content-Security-Policy header the web server sends.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { protocol } from 'electron';
import { RENDERER_CSP } from '../host/csp.js';

export const APP_SCHEME = 'app';
export const APP_HOST = 'twinlens';
export const APP_ORIGIN = `${APP_SCHEME}://${APP_HOST}`;
export const APP_URL = `${APP_ORIGIN}/index.html`;

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.json': 'application/json',
  '.map': 'application/json',
  '.woff2': 'font/woff2',
};

/**
 * Whether a URL is one of our pages. Compares scheme and host: Node's URL
 * gives custom schemes an opaque origin ("null"), so `.origin` cannot be used.
 */
export function isAppUrl(url: string): boolean {
  try {
    const u = new URL(url);
    return u.protocol === `${APP_SCHEME}:` && u.host === APP_HOST;
  } catch {
    return false;
  }
}

/** Must run before the app is ready. */
export function registerAppScheme(): void {
  protocol.registerSchemesAsPrivileged([{ scheme: APP_SCHEME, privileges: { standard: true, secure: true, supportFetchAPI: true } }]);
}

/** Serve dist/renderer under app://twinlens/. Call once the app is ready. */
export function serveRenderer(rendererDir: string): void {
  const root = path.resolve(rendererDir);
  protocol.handle(APP_SCHEME, async (request) => {
    const url = new URL(request.url);
    if (url.host !== APP_HOST) return new Response('Not found', { status: 404 });
    let rel: string;
    try {
      rel = decodeURIComponent(url.pathname).replace(/^\/+/, '') || 'index.html';
    } catch {
      return new Response('Bad request', { status: 400 });
    }
    const file = path.resolve(root, rel);
    if (!file.startsWith(root + path.sep)) return new Response('Forbidden', { status: 403 });
    try {
      const body = await fs.promises.readFile(file);
      return new Response(body, {
        headers: {
          'Content-Type': TYPES[path.extname(file).toLowerCase()] ?? 'application/octet-stream',
          'Content-Security-Policy': RENDERER_CSP,
          'X-Content-Type-Options': 'nosniff',
        },
      });
    } catch {
      return new Response('Not found', { status: 404 });
    }
  });
}
