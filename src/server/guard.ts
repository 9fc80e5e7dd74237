/**
 * Who may talk to the web-mode server. Three checks, applied to every HTTP
 * request and every WebSocket upgrade:
 *
 * 1. Host header: only IP literals, localhost, the bound host name and names
 *    the user allowed. A DNS-rebinding page (evil.example resolving to
 *    127.0.0.1) sends `Host: evil.example` and is refused before anything else.
 * 2. Origin (when a browser sends one): must be the same origin as the Host,
 *    so another site open in the same browser cannot drive the engine.
 * 3. Token: a random per-run secret printed in the URL. The first visit with
 *    `?token=` trades it for an HttpOnly, SameSite=Strict cookie; scripts may
 *    send `Authorization: Bearer <token>` or `X-TwinLens-Token` instead.
 */
import { randomBytes, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import * as os from 'node:os';

export interface GuardOptions {
  token: string;
  port: number;
  /** The host the server is bound to (127.0.0.1 by default). */
  bindHost: string;
  /** Extra host names accepted in the Host header (e.g. a GPU box's DNS name). */
  allowedHosts?: string[];
}

export type GuardVerdict = { ok: true } | { ok: false; status: 401 | 403; reason: string };

export function newToken(): string {
  return randomBytes(24).toString('base64url');
}

/** Cookies are not port-scoped, so the name carries the port: two servers on one machine keep their own tokens. */
export function cookieName(port: number): string {
  return `twinlens_token_${port}`;
}

const IPV4 = /^\d{1,3}(\.\d{1,3}){3}$/;

/** Host header → bare lower-case host name (no port, no IPv6 brackets), or undefined when malformed. */
export function hostnameOf(hostHeader: string | undefined): string | undefined {
  if (!hostHeader) return undefined;
  const h = hostHeader.trim().toLowerCase();
  if (h.startsWith('[')) {
    const end = h.indexOf(']');
    return end > 0 ? h.slice(1, end) : undefined;
  }
  const colon = h.indexOf(':');
  const name = colon >= 0 ? h.slice(0, colon) : h;
  return /^[a-z0-9.-]+$/.test(name) ? name : undefined;
}

function isIpLiteral(name: string): boolean {
  return IPV4.test(name) || name.includes(':');
}

export class Guard {
  private readonly allowed: Set<string>;
  private readonly tokenBytes: Buffer;

  constructor(private readonly opts: GuardOptions) {
    this.tokenBytes = Buffer.from(opts.token);
    this.allowed = new Set(['localhost', ...(opts.allowedHosts ?? []).map((h) => h.toLowerCase())]);
    const bind = opts.bindHost.toLowerCase();
    if (!isIpLiteral(bind)) this.allowed.add(bind);
    // Bound to every interface: the machine's own name is how a remote user will reach it.
    if (bind === '0.0.0.0' || bind === '::') this.allowed.add(os.hostname().toLowerCase());
  }

  get token(): string {
    return this.opts.token;
  }

  get cookieName(): string {
    return cookieName(this.opts.port);
  }

  hostAllowed(hostHeader: string | undefined): boolean {
    const name = hostnameOf(hostHeader);
    if (!name) return false;
    return isIpLiteral(name) || this.allowed.has(name) || name.endsWith('.localhost');
  }

  /** No Origin (curl, scripts, same-origin GETs) is fine; a cross-origin one is not. */
  originAllowed(origin: string | undefined, hostHeader: string | undefined): boolean {
    if (origin === undefined) return true;
    if (origin === 'null') return false;
    try {
      const u = new URL(origin);
      if (u.protocol !== 'http:' && u.protocol !== 'https:') return false;
      return u.host.toLowerCase() === (hostHeader ?? '').trim().toLowerCase();
    } catch {
      return false;
    }
  }

  tokenMatches(candidate: string | undefined | null): boolean {
    if (!candidate) return false;
    const b = Buffer.from(candidate);
    return b.length === this.tokenBytes.length && timingSafeEqual(b, this.tokenBytes);
  }

  /** The token a request presents: header, bearer, cookie or (first visit) query string. */
  presentedToken(req: IncomingMessage, url: URL): string | undefined {
    const header = req.headers['x-twinlens-token'];
    if (typeof header === 'string') return header;
    const auth = req.headers.authorization;
    if (auth?.startsWith('Bearer ')) return auth.slice(7).trim();
    const cookie = parseCookies(req.headers.cookie)[this.cookieName];
    if (cookie) return cookie;
    return url.searchParams.get('token') ?? undefined;
  }

  check(req: IncomingMessage, url: URL, { requireOrigin = false } = {}): GuardVerdict {
    if (!this.hostAllowed(req.headers.host)) {
      return {
        ok: false,
        status: 403,
        reason: `Host "${req.headers.host ?? ''}" is not allowed (DNS rebinding protection). Use the printed URL, or start the server with --allow-host NAME.`,
      };
    }
    const origin = req.headers.origin;
    if (requireOrigin && origin !== undefined && !this.originAllowed(origin, req.headers.host)) {
      return { ok: false, status: 403, reason: `Origin "${origin}" is not allowed` };
    }
    if (!requireOrigin && origin !== undefined && req.method !== 'GET' && req.method !== 'HEAD' && !this.originAllowed(origin, req.headers.host)) {
      return { ok: false, status: 403, reason: `Origin "${origin}" is not allowed` };
    }
    if (!this.tokenMatches(this.presentedToken(req, url))) {
      return { ok: false, status: 401, reason: 'Missing or wrong token: open the URL printed by `twinlens serve` (it ends with ?token=…).' };
    }
    return { ok: true };
  }

  /** Set-Cookie value that remembers the token for this browser session. */
  cookieHeader(): string {
    return `${this.cookieName}=${this.opts.token}; HttpOnly; SameSite=Strict; Path=/`;
  }
}

export function parseCookies(header: string | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  if (!header) return out;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq <= 0) continue;
    out[part.slice(0, eq).trim()] = part.slice(eq + 1).trim();
  }
  return out;
}
