/**
 * A local stand-in for the Hugging Face Hub (node:http on 127.0.0.1, port 0)
 * with the URL shapes @huggingface/hub uses: `POST /api/models/{repo}/paths-info/{rev}`,
 * `GET /api/models/{repo}/tree/{rev}`, `GET /{repo}/resolve/{rev}/{path}`
 * (LFS files redirect to a CDN path, as the Hub does), Range requests with 206
 * answers, ETag / X-Linked-ETag / X-Linked-Size headers, and 404 with
 * X-Error-Code: EntryNotFound. Faults are injected per test: drop the
 * connection after N bytes, flip one byte, ignore Range, slow chunks.
 *
 * Files marked `xet` are also served by the Xet protocol, as the Hub serves
 * Xet-backed repos (https://huggingface.co/docs/xet/en/download-protocol):
 * the resolve probe that accepts `application/vnd.xet-fileinfo+json` gets the
 * file info (X-Xet-Hash, X-Linked-Size, Link: xet-auth + xet-reconstruction-
 * info), `GET /api/models/{repo}/xet-read-token/{rev}` a token and the CAS
 * URL, `GET /cas/v2/reconstructions/{hash}` (with a Range) the terms and the
 * signed xorb ranges, and `GET /xorbs/{hash}/{k}` xorb k: XORB_CHUNKS chunks
 * of XET_CHUNK bytes, each behind its 8-byte header (version 0, compression
 * None), one term per xorb. The byte faults apply to the fetch of xorb k
 * under the key `xorb:<path>#<k>`.
 */
import { createHash } from 'node:crypto';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface RepoFile {
  content: Buffer;
  /** Stored with Git LFS: listed with lfs.oid = sha256 and redirected to the CDN. */
  lfs?: boolean;
  /** Also stored in Xet (implies lfs): listed with xetHash, served by the Xet protocol to clients that ask. */
  xet?: boolean;
}

/** Uncompressed bytes per Xet chunk in the stand-in (the real CDC chunks average 64 KiB). */
export const XET_CHUNK = 16 * 1024;
/** Chunks per xorb (the real xorbs hold up to 64 MiB): a file of more than 64 KiB spans several terms. */
export const XORB_CHUNKS = 4;

export interface Faults {
  /** Destroy the socket after sending this many body bytes of a resolve/CDN GET (not the 0-0 probe). */
  cutAfter?: Record<string, number>;
  /** How many responses the cut applies to (default 1). */
  cutTimes?: number;
  /** Flip the byte at this offset when serving the file. */
  corrupt?: Record<string, number>;
  /** Answer 200 with the whole file even when a Range is asked (probe excepted). */
  ignoreRange?: boolean;
  /** Pause between 16 kB chunks, in ms. */
  chunkDelayMs?: number;
  /** Stop sending (socket left open, nothing more written) after this many body bytes of a file. */
  stallAfter?: Record<string, number>;
}

export interface RequestLog {
  method: string;
  url: string;
  range?: string;
}

export interface FakeHub {
  url: string;
  requests: RequestLog[];
  faults: Faults;
  files: Map<string, RepoFile>;
  close(): Promise<void>;
}

export function gitBlobId(b: Buffer): string {
  return createHash('sha1').update(`blob ${b.length}\0`).update(b).digest('hex');
}

export function sha256(b: Buffer): string {
  return createHash('sha256').update(b).digest('hex');
}

/** Deterministic pseudo-random bytes. */
export function bytes(n: number, seed = 1): Buffer {
  const b = Buffer.alloc(n);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    b[i] = x & 0xff;
  }
  return b;
}

function entry(path: string, f: RepoFile) {
  return {
    type: 'file',
    path,
    size: f.content.length,
    oid: gitBlobId(f.lfs ? Buffer.from(`version https://git-lfs.github.com/spec/v1\noid sha256:${sha256(f.content)}\n`) : f.content),
    ...(f.lfs || f.xet ? { lfs: { oid: sha256(f.content), size: f.content.length, pointerSize: 134 } } : {}),
    ...(f.xet ? { xetHash: xetHash(f.content) } : {}),
  };
}

/** The stand-in's Xet file hash (the real one is a merkle hash of the chunks; any 64 hex digits do here). */
export function xetHash(b: Buffer): string {
  return createHash('sha256').update('xet').update(b).digest('hex');
}

/** Xorb k of a file: [8-byte header, chunk] for its XORB_CHUNKS chunks; offsets[i] = where local chunk i starts. */
function xorbOf(content: Buffer, k: number): { bytes: Buffer; offsets: number[] } {
  const parts: Buffer[] = [];
  const offsets = [0];
  const from = k * XORB_CHUNKS * XET_CHUNK;
  const to = Math.min(content.length, from + XORB_CHUNKS * XET_CHUNK);
  for (let i = from; i < to; i += XET_CHUNK) {
    const chunk = content.subarray(i, Math.min(i + XET_CHUNK, to));
    const header = Buffer.alloc(8);
    header[0] = 0; // version
    header.writeUIntLE(chunk.length, 1, 3); // compressed length
    header[4] = 0; // compression scheme None
    header.writeUIntLE(chunk.length, 5, 3); // uncompressed length
    parts.push(header, chunk);
    offsets.push(offsets.at(-1)! + 8 + chunk.length);
  }
  return { bytes: Buffer.concat(parts), offsets };
}

export async function startFakeHub(repo: string, files: Record<string, RepoFile>, revision = 'main'): Promise<FakeHub> {
  const hub: FakeHub = { url: '', requests: [], faults: {}, files: new Map(Object.entries(files)), close: async () => undefined };
  // Cut counts belong to one faults object: assigning new faults starts counting afresh.
  const cutCounts = new WeakMap<Faults, Map<string, number>>();
  const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

  async function serveFile(req: http.IncomingMessage, res: http.ServerResponse, path: string, xorb?: Buffer): Promise<void> {
    const f = xorb ? { content: xorb, lfs: true } : hub.files.get(path);
    if (!f) {
      res.writeHead(404, { 'X-Error-Code': 'EntryNotFound', 'Content-Type': 'application/json' }).end('{"error":"Entry not found"}');
      return;
    }
    let body = f.content;
    const corrupt = hub.faults.corrupt?.[path];
    if (corrupt !== undefined) {
      body = Buffer.from(body);
      body[corrupt] ^= 0xff;
    }
    const size = body.length;
    const headers: Record<string, string> = {
      ETag: `"${f.lfs ? sha256(f.content) : gitBlobId(f.content)}"`,
      'Accept-Ranges': 'bytes',
      'Content-Type': 'application/octet-stream',
    };
    const m = /^bytes=(\d+)-(\d*)$/.exec(req.headers.range ?? '');
    const probe = req.headers.range === 'bytes=0-0';
    let start = 0;
    let end = size - 1;
    let status = 200;
    if (m && (!hub.faults.ignoreRange || probe)) {
      start = Number(m[1]);
      end = m[2] ? Math.min(Number(m[2]), size - 1) : size - 1;
      status = 206;
      headers['Content-Range'] = `bytes ${start}-${end}/${size}`;
    }
    const part = body.subarray(start, end + 1);
    headers['Content-Length'] = String(part.length);
    res.writeHead(status, headers);
    if (req.method === 'HEAD') return void res.end();
    const cutAt = probe ? undefined : hub.faults.cutAfter?.[path];
    let cuts = cutCounts.get(hub.faults);
    if (!cuts) cutCounts.set(hub.faults, (cuts = new Map()));
    const cutCount = cuts.get(path) ?? 0;
    const cut = cutAt !== undefined && cutCount < (hub.faults.cutTimes ?? 1);
    if (cut) cuts.set(path, cutCount + 1);
    let sent = 0;
    const chunk = 16 * 1024;
    while (sent < part.length) {
      const n = Math.min(chunk, part.length - sent, cut ? Math.max(0, cutAt! - sent) : chunk);
      if (cut && n === 0) {
        res.socket?.destroy();
        return;
      }
      const stallAt = probe ? undefined : hub.faults.stallAfter?.[path];
      if (stallAt !== undefined && sent >= stallAt) {
        // a stalled connection: open, silent, until the client gives up
        await new Promise((r) => res.once('close', r));
        return;
      }
      const ok = res.write(part.subarray(sent, sent + n));
      sent += n;
      if (!ok) await new Promise((r) => res.once('drain', r));
      if (hub.faults.chunkDelayMs) await sleep(hub.faults.chunkDelayMs);
      if (res.destroyed) return;
    }
    if (cut) {
      res.socket?.destroy();
      return;
    }
    res.end();
  }

  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    hub.requests.push({ method: req.method ?? 'GET', url: url.pathname, ...(req.headers.range ? { range: req.headers.range } : {}) });
    const api = `/api/models/${repo}`;
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      void (async () => {
        if (req.method === 'POST' && url.pathname === `${api}/paths-info/${revision}`) {
          const { paths } = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { paths: string[] };
          const list = paths.filter((p) => hub.files.has(p)).map((p) => entry(p, hub.files.get(p)!));
          res.writeHead(200, { 'Content-Type': 'application/json' }).end(JSON.stringify(list));
          return;
        }
        if (req.method === 'GET' && url.pathname === `${api}/tree/${revision}`) {
          const list = [...hub.files.entries()].map(([p, f]) => entry(p, f));
          res.writeHead(200, { 'Content-Type': 'application/json' }).end(JSON.stringify(list));
          return;
        }
        const resolve = `/${repo}/resolve/${revision}/`;
        if (url.pathname.startsWith(resolve)) {
          const path = decodeURIComponent(url.pathname.slice(resolve.length));
          const f = hub.files.get(path);
          if (f?.xet && String(req.headers.accept ?? '').includes('application/vnd.xet-fileinfo+json')) {
            const hash = xetHash(f.content);
            res
              .writeHead(200, {
                'Content-Type': 'application/vnd.xet-fileinfo+json',
                'X-Xet-Hash': hash,
                'X-Linked-Size': String(f.content.length),
                'X-Linked-ETag': `"${sha256(f.content)}"`,
                Link: `<${hub.url}${api}/xet-read-token/${revision}>; rel="xet-auth", <${hub.url}/cas/v1/reconstructions/${hash}>; rel="xet-reconstruction-info"`,
              })
              .end(JSON.stringify({ hash, size: f.content.length }));
            return;
          }
          if (f?.lfs) {
            res
              .writeHead(302, {
                Location: `/cdn/${repo}/${revision}/${path}`,
                'X-Linked-ETag': `"${sha256(f.content)}"`,
                'X-Linked-Size': String(f.content.length),
              })
              .end();
            return;
          }
          await serveFile(req, res, path);
          return;
        }
        if (req.method === 'GET' && url.pathname === `${api}/xet-read-token/${revision}`) {
          res
            .writeHead(200, { 'Content-Type': 'application/json' })
            .end(JSON.stringify({ accessToken: 'xet-read', casUrl: `${hub.url}/cas`, exp: Math.floor(Date.now() / 1000) + 3600 }));
          return;
        }
        const xetFile = (hash: string) => [...hub.files.entries()].find(([, f]) => f.xet && xetHash(f.content) === hash);
        if (req.method === 'GET' && url.pathname.startsWith('/cas/v2/reconstructions/')) {
          const found = xetFile(url.pathname.slice('/cas/v2/reconstructions/'.length));
          if (!found || req.headers.authorization !== 'Bearer xet-read') {
            res.writeHead(found ? 401 : 404, { 'Content-Type': 'application/json' }).end('{"error":"no such xet file, or no token"}');
            return;
          }
          const content = found[1].content;
          const m = /^bytes=(\d+)-(\d+)$/.exec(req.headers.range ?? '');
          const start = m ? Number(m[1]) : 0;
          const end = m ? Math.min(Number(m[2]), content.length - 1) : content.length - 1;
          const first = Math.floor(start / XET_CHUNK);
          const last = Math.floor(end / XET_CHUNK);
          const hash = xetHash(content);
          const terms = [];
          const xorbs: Record<string, unknown> = {};
          for (let k = Math.floor(first / XORB_CHUNKS); k <= Math.floor(last / XORB_CHUNKS); k++) {
            const lo = Math.max(first, k * XORB_CHUNKS) - k * XORB_CHUNKS;
            const hi = Math.min(last, k * XORB_CHUNKS + XORB_CHUNKS - 1) - k * XORB_CHUNKS;
            const base = (k * XORB_CHUNKS + lo) * XET_CHUNK;
            const { offsets } = xorbOf(content, k);
            const termHash = `${hash.slice(0, 56)}${k.toString(16).padStart(8, '0')}`;
            terms.push({
              hash: termHash,
              unpacked_length: Math.min(content.length, (k * XORB_CHUNKS + hi + 1) * XET_CHUNK) - base,
              range: { start: lo, end: hi + 1 },
            });
            xorbs[termHash] = [
              {
                url: `${hub.url}/xorbs/${hash}/${k}?X-Xet-Signed-Range=${lo}-${hi}`,
                ranges: [{ chunks: { start: lo, end: hi + 1 }, bytes: { start: offsets[lo], end: offsets[hi + 1] - 1 } }],
              },
            ];
          }
          res.writeHead(200, { 'Content-Type': 'application/json' }).end(JSON.stringify({ offset_into_first_range: start - first * XET_CHUNK, terms, xorbs }));
          return;
        }
        if (req.method === 'GET' && url.pathname.startsWith('/xorbs/')) {
          const [hash, k] = url.pathname.slice('/xorbs/'.length).split('/');
          const found = xetFile(hash);
          if (!found || !/^\d+$/.test(k ?? '')) return void res.writeHead(404).end();
          await serveFile(req, res, `xorb:${found[0]}#${k}`, xorbOf(found[1].content, Number(k)).bytes);
          return;
        }
        const cdn = `/cdn/${repo}/${revision}/`;
        if (url.pathname.startsWith(cdn)) {
          await serveFile(req, res, decodeURIComponent(url.pathname.slice(cdn.length)));
          return;
        }
        if (url.pathname.startsWith(`/api/models/`) || url.pathname.includes('/resolve/')) {
          res.writeHead(404, { 'X-Error-Code': 'RepoNotFound', 'Content-Type': 'application/json' }).end('{"error":"Repository not found"}');
          return;
        }
        res.writeHead(404).end();
      })().catch(() => res.destroy());
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  hub.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  hub.close = () =>
    new Promise((r) => {
      server.closeAllConnections();
      server.close(() => r());
    });
  return hub;
}
