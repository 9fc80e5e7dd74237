/**
 * Serves the built renderer (dist/renderer, made by `npm run build:renderer`)
 * to the browser. Only files inside that folder, only GET/HEAD, with the same
 * strict Content-Security-Policy the Electron window uses, so web mode tests
 * the renderer under the desktop app's rules.
 */
import * as fs from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import * as path from 'node:path';
import { RENDERER_CSP } from '../host/csp.js';

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.jpeg': 'image/jpeg',
  '.webp': 'image/webp',
  '.ico': 'image/x-icon',
  '.woff2': 'font/woff2',
  '.map': 'application/json; charset=utf-8',
  '.txt': 'text/plain; charset=utf-8',
};

export function securityHeaders(): Record<string, string> {
  return {
    'Content-Security-Policy': RENDERER_CSP,
    'X-Content-Type-Options': 'nosniff',
    'Referrer-Policy': 'no-referrer',
    'X-Frame-Options': 'DENY',
    'Cross-Origin-Opener-Policy': 'same-origin',
    'Cross-Origin-Resource-Policy': 'same-origin',
  };
}

export class StaticFiles {
  private readonly root: string;

  constructor(root: string) {
    this.root = path.resolve(root);
  }

  get available(): boolean {
    return fs.existsSync(path.join(this.root, 'index.html'));
  }

  /** Resolve a URL path to a file inside the root, or undefined (traversal, missing, not a file). */
  resolve(urlPath: string): string | undefined {
    let decoded: string;
    try {
      decoded = decodeURIComponent(urlPath);
    } catch {
      return undefined;
    }
    if (decoded.includes('\0')) return undefined;
    const rel = decoded === '/' || decoded === '' ? 'index.html' : decoded.replace(/^\/+/, '');
    const file = path.resolve(this.root, rel);
    if (file !== this.root && !file.startsWith(this.root + path.sep)) return undefined;
    try {
      const real = fs.realpathSync(file);
      const realRoot = fs.realpathSync(this.root);
      if (!real.startsWith(realRoot + path.sep)) return undefined;
      return fs.statSync(real).isFile() ? real : undefined;
    } catch {
      return undefined;
    }
  }

  serve(req: IncomingMessage, res: ServerResponse, urlPath: string): void {
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { Allow: 'GET, HEAD', ...securityHeaders() }).end();
      return;
    }
    if (!this.available) {
      res.writeHead(503, { 'Content-Type': 'text/plain; charset=utf-8', ...securityHeaders() });
      res.end('The renderer is not built: run `npm run build:renderer` (or `npm run build`) and reload.\n');
      return;
    }
    const file = this.resolve(urlPath);
    if (!file) {
      res.writeHead(404, { 'Content-Type': 'text/plain; charset=utf-8', ...securityHeaders() }).end('Not found\n');
      return;
    }
    const ext = path.extname(file).toLowerCase();
    const stat = fs.statSync(file);
    // Hashed assets never change; index.html must always be fresh so a rebuild shows up.
    const cache = ext === '.html' ? 'no-store' : urlPath.startsWith('/assets/') ? 'public, max-age=31536000, immutable' : 'no-cache';
    res.writeHead(200, {
      'Content-Type': TYPES[ext] ?? 'application/octet-stream',
      'Content-Length': String(stat.size),
      'Cache-Control': cache,
      ...securityHeaders(),
    });
    if (req.method === 'HEAD') {
      res.end();
      return;
    }
    fs.createReadStream(file).pipe(res);
  }
}
