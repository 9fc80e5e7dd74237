/**
 * Feature folders for projector training, in the format the Python trainer
 * reads (training/twinlens_train/llava/shards.py, `FeatureStore`):
 *
 *   shard-0000i-of-0000n.safetensors   "<row_id>/clip" [N,D], "<row_id>/diffusion_uncond" [M,C],
 *                                      "<row_id>/diffusion_cond" [M,C] (rows that had a prompt)
 *   manifest-0000i-of-0000n.json       partial manifest of shard i (settings, shapes, sha256, rows, of: n)
 *   manifest.json                      the merged manifest, written once all n parts exist
 *
 * Why streaming: a shard of a real extraction holds thousands of rows of
 * 576×1024 CLIP and 256×1280 UNet tokens (tens of GB), so the tensors are
 * appended to a data file as they are computed and the safetensors header is
 * written in front of them at the end; the shard appears under its real name
 * only when complete (rename), so a killed job never leaves a half shard that
 * a rerun would take for finished. A journal (`<shard>.rows.tmp`, one line
 * per row after its bytes are written) lets a rerun continue a killed shard.
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { TwinLensError } from '../../shared/errors.js';
import { float32ToFloat16Bits } from '../onnx/fp16.js';

export const FEATURE_FORMAT_VERSION = 1;
export type FeatureKind = 'clip' | 'diffusion_uncond' | 'diffusion_cond';
/** Storage dtype of the shard tensors; the Python reader returns float32 either way. */
export type ShardDtype = 'float32' | 'float16';

/** How the features were made: identical in every part of one folder. */
export interface FeatureSettings {
  tap: string;
  t: number;
  s: number;
  seed: number;
  /** "none" (stage 1: empty prompt) or "question" (stage 2: the row's first question). */
  prompt_policy: string;
  features: { clip: [number, number]; diffusion: [number, number] };
  /** Extra facts (pack, stage, prompt dropout); merged parts must agree on them too. */
  [extra: string]: unknown;
}

export interface ShardEntry {
  file: string;
  sha256: string;
  rows: string[];
  /** Rows this job could not extract, with the reason (not read by the trainer). */
  skipped?: Array<{ id: string; reason: string }>;
}

export interface PartialManifest extends FeatureSettings {
  version: number;
  shards: [ShardEntry];
  of: number;
}

const pad5 = (i: number) => String(i).padStart(5, '0');
export const shardFileName = (i: number, n: number) => `shard-${pad5(i)}-of-${pad5(n)}.safetensors`;
export const partialManifestName = (i: number, n: number) => `manifest-${pad5(i)}-of-${pad5(n)}.json`;

/** "i/n" → [i, n] with 0 ≤ i < n. */
export function parseShardSpec(spec: string): [number, number] {
  const m = /^(\d+)\/(\d+)$/.exec(spec.trim());
  const i = m ? Number(m[1]) : NaN;
  const n = m ? Number(m[2]) : NaN;
  if (!m || n < 1 || i >= n) throw new TwinLensError('INVALID_ARGUMENT', `--shard wants i/n with 0 <= i < n (e.g. 0/4), got "${spec}"`);
  return [i, n];
}

export function sha256File(file: string): string {
  const h = createHash('sha256');
  const fd = fs.openSync(file, 'r');
  try {
    const buf = Buffer.alloc(1 << 20);
    for (;;) {
      const n = fs.readSync(fd, buf, 0, buf.length, null);
      if (!n) break;
      h.update(buf.subarray(0, n));
    }
  } finally {
    fs.closeSync(fd);
  }
  return h.digest('hex');
}

function writeJsonAtomic(file: string, value: unknown): void {
  const tmp = `${file}.tmp-${process.pid}`;
  fs.writeFileSync(tmp, `${JSON.stringify(value, null, 1)}\n`);
  fs.renameSync(tmp, file);
}

/** Settings without the per-part keys, for comparing parts. */
function head(p: Record<string, unknown>): string {
  const rest = Object.fromEntries(Object.entries(p).filter(([k]) => k !== 'shards' && k !== 'of'));
  return JSON.stringify(rest, Object.keys(rest).sort());
}

type HeaderEntry = { dtype: 'F32' | 'F16'; shape: number[]; data_offsets: [number, number] };
type JournalLine = { id: string; tensors: Record<string, HeaderEntry> } | { skip: string; reason: string };

/**
 * Shard i of n, written row by row. Rows already in the journal of an
 * interrupted job with the same `key` (the settings and data it was started
 * with) are kept: the data file is cut back to the last journalled row and
 * the job continues after it, so a killed shard of hours loses one row.
 */
export class FeatureShardWriter {
  private readonly dataFile: string;
  private readonly journalFile: string;
  private readonly fd: number;
  private readonly header: Record<string, HeaderEntry> = {};
  private offset = 0;
  private readonly rows: string[] = [];
  private readonly skipped: Array<{ id: string; reason: string }> = [];
  private readonly seen = new Set<string>();
  /** Rows (written or skipped) taken over from an interrupted run. */
  readonly resumed: number = 0;
  private closed = false;

  constructor(
    readonly dir: string,
    readonly shard: [number, number],
    readonly dtype: ShardDtype = 'float32',
    key = '',
  ) {
    fs.mkdirSync(dir, { recursive: true });
    this.dataFile = path.join(dir, `${shardFileName(...shard)}.data.tmp`);
    this.journalFile = path.join(dir, `${shardFileName(...shard)}.rows.tmp`);
    const first = JSON.stringify({ journal: 1, key, dtype });
    const lines = fs.existsSync(this.journalFile) && fs.existsSync(this.dataFile) ? fs.readFileSync(this.journalFile, 'utf8').split('\n') : [];
    const kept: string[] = [];
    if (lines[0] === first) {
      const size = fs.statSync(this.dataFile).size;
      for (const line of lines.slice(1)) {
        let j: JournalLine;
        try {
          j = JSON.parse(line) as JournalLine;
        } catch {
          break; // a line cut by the kill, and nothing after it
        }
        if ('skip' in j) {
          this.skipped.push({ id: j.skip, reason: j.reason });
          this.seen.add(j.skip);
        } else {
          const ends = Object.values(j.tensors).map((e) => e.data_offsets[1]);
          if (Math.max(...ends) > size) break;
          Object.assign(this.header, j.tensors);
          this.offset = Math.max(this.offset, ...ends);
          this.rows.push(j.id);
          this.seen.add(j.id);
        }
        kept.push(line);
      }
      this.resumed = this.seen.size;
    }
    if (this.resumed) {
      this.fd = fs.openSync(this.dataFile, 'r+');
      fs.ftruncateSync(this.fd, this.offset); // bytes of a row whose journal line was never written
    } else {
      this.fd = fs.openSync(this.dataFile, 'w');
    }
    fs.writeFileSync(this.journalFile, `${[first, ...kept].join('\n')}\n`);
  }

  /** Whether the row is already written or skipped (by this run or the interrupted one). */
  has(id: string): boolean {
    return this.seen.has(id);
  }

  private journal(line: JournalLine): void {
    fs.appendFileSync(this.journalFile, `${JSON.stringify(line)}\n`);
  }

  /** Appends one row's tensors ([tokens, dim] each, row-major float32). */
  addRow(id: string, tensors: Partial<Record<FeatureKind, { shape: [number, number]; data: Float32Array }>>): void {
    if (id.includes('/')) throw new TwinLensError('INVALID_ARGUMENT', `row id "${id}" contains "/", which separates id and kind in shard keys`);
    if (!tensors.clip || !tensors.diffusion_uncond) throw new TwinLensError('INVALID_ARGUMENT', `row ${id}: clip and diffusion_uncond are required`);
    if (this.seen.has(id)) throw new TwinLensError('INVALID_ARGUMENT', `row ${id} is already in the shard`);
    const entries: Record<string, HeaderEntry> = {};
    for (const kind of ['clip', 'diffusion_uncond', 'diffusion_cond'] as const) {
      const t = tensors[kind];
      if (!t) continue;
      if (t.data.length !== t.shape[0] * t.shape[1])
        throw new TwinLensError('INTERNAL', `row ${id}: ${kind} has ${t.data.length} values for shape [${t.shape.join(',')}]`);
      const typed = this.dtype === 'float16' ? float32ToFloat16Bits(t.data) : t.data;
      const bytes = Buffer.from(typed.buffer, typed.byteOffset, typed.byteLength);
      fs.writeSync(this.fd, bytes, 0, bytes.length, this.offset);
      entries[`${id}/${kind}`] = {
        dtype: this.dtype === 'float16' ? 'F16' : 'F32',
        shape: [...t.shape],
        data_offsets: [this.offset, this.offset + bytes.length],
      };
      this.offset += bytes.length;
    }
    Object.assign(this.header, entries);
    this.journal({ id, tensors: entries }); // after the data: a journalled row is complete
    this.rows.push(id);
    this.seen.add(id);
  }

  skip(id: string, reason: string): void {
    this.skipped.push({ id, reason });
    this.seen.add(id);
    this.journal({ skip: id, reason });
  }

  /** Writes the shard (header + data, renamed into place) and its partial manifest; returns the manifest. */
  finish(settings: FeatureSettings): PartialManifest {
    this.close();
    const [i, n] = this.shard;
    const name = shardFileName(i, n);
    const final = path.join(this.dir, name);
    const tmp = `${final}.tmp`;
    let json = Buffer.from(JSON.stringify({ __metadata__: { rows: String(this.rows.length) }, ...this.header }), 'utf8');
    const padBytes = (8 - (json.length % 8)) % 8;
    if (padBytes) json = Buffer.concat([json, Buffer.alloc(padBytes, 0x20)]);
    const len = Buffer.alloc(8);
    len.writeBigUInt64LE(BigInt(json.length));
    const out = fs.openSync(tmp, 'w');
    try {
      fs.writeSync(out, len);
      fs.writeSync(out, json);
      const src = fs.openSync(this.dataFile, 'r');
      try {
        const buf = Buffer.alloc(1 << 20);
        for (;;) {
          const k = fs.readSync(src, buf, 0, buf.length, null);
          if (!k) break;
          fs.writeSync(out, buf, 0, k);
        }
      } finally {
        fs.closeSync(src);
      }
      fs.fsyncSync(out);
    } finally {
      fs.closeSync(out);
    }
    fs.renameSync(tmp, final);
    fs.rmSync(this.dataFile, { force: true });
    fs.rmSync(this.journalFile, { force: true });
    const entry: ShardEntry = { file: name, sha256: sha256File(final), rows: this.rows, ...(this.skipped.length ? { skipped: this.skipped } : {}) };
    const part: PartialManifest = { ...settings, version: FEATURE_FORMAT_VERSION, shards: [entry], of: n };
    writeJsonAtomic(path.join(this.dir, partialManifestName(i, n)), part);
    return part;
  }

  /** Closes the data file; the journal and data stay for a rerun to resume. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    fs.closeSync(this.fd);
  }
}

/**
 * The finished part of shard i/n in dir, when its shard file is present with
 * the recorded sha256; undefined when the shard still has to be made.
 */
export function finishedShard(dir: string, shard: [number, number]): PartialManifest | undefined {
  const [i, n] = shard;
  const mfile = path.join(dir, partialManifestName(i, n));
  const sfile = path.join(dir, shardFileName(i, n));
  if (!fs.existsSync(mfile) || !fs.existsSync(sfile)) return undefined;
  let part: PartialManifest;
  try {
    part = JSON.parse(fs.readFileSync(mfile, 'utf8')) as PartialManifest;
  } catch {
    return undefined;
  }
  return part.shards?.[0]?.sha256 === sha256File(sfile) ? part : undefined;
}

/** Whether two parts were made the same way (settings, shapes, extras). */
export function sameSettings(a: Record<string, unknown>, b: Record<string, unknown>): boolean {
  return head(a) === head(b);
}

/**
 * Merges the n partial manifests into manifest.json (as shards.py's
 * finalize_manifest); returns its path, or undefined while parts are missing.
 */
export function finalizeManifest(dir: string, n: number): string | undefined {
  const parts: PartialManifest[] = [];
  for (let i = 0; i < n; i++) {
    const f = path.join(dir, partialManifestName(i, n));
    if (!fs.existsSync(f)) return undefined;
    parts.push(JSON.parse(fs.readFileSync(f, 'utf8')) as PartialManifest);
  }
  for (const [k, p] of parts.entries()) {
    if (!sameSettings(p, parts[0]))
      throw new TwinLensError(
        'INVALID_ARGUMENT',
        `${partialManifestName(k, n)} was made with other settings than ${partialManifestName(0, n)}`,
        'Extract every shard with the same pack, stage and options',
      );
  }
  const merged: Record<string, unknown> = Object.fromEntries(Object.entries(parts[0]).filter(([k]) => k !== 'shards' && k !== 'of'));
  merged.shards = parts.map((p) => p.shards[0]);
  const file = path.join(dir, 'manifest.json');
  writeJsonAtomic(file, merged);
  return file;
}
