/**
 * The safetensors format, written and read here without a dependency: an
 * 8-byte little-endian header length N, N bytes of JSON header — per tensor
 * its dtype, shape and [begin, end) byte offsets into the data section, plus
 * an optional "__metadata__" map of string → string — then the data
 * section, tensors back to back in little-endian, C order. We pad the header
 * with spaces to a multiple of 8 bytes so every tensor starts aligned, as
 * the reference implementation does. float32 ("F32") only: that is what the
 * engine's tensors are. The metadata carries the same facts as the JSON
 * sidecar, so a .safetensors file alone says how it was made.
 */
import { TwinLensError } from '../../shared/errors.js';

export interface NamedTensor {
  name: string;
  shape: number[];
  data: Float32Array;
}

export interface DecodedSafetensors {
  tensors: Map<string, { shape: number[]; data: Float32Array }>;
  metadata: Record<string, string>;
}

const METADATA = '__metadata__';
/** Headers above this are refused when reading (the reference's limit is 100 MB). */
const MAX_HEADER = 100_000_000;

function littleEndian(): boolean {
  return new Uint8Array(Uint16Array.of(1).buffer)[0] === 1;
}

function count(shape: number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

/** Encode float32 tensors (in the given order) and string metadata. */
export function encodeSafetensors(tensors: NamedTensor[], metadata: Record<string, string> = {}): Buffer {
  if (!littleEndian()) throw new TwinLensError('INTERNAL', 'safetensors: big-endian hosts are not supported');
  const header: Record<string, unknown> = {};
  const names = new Set<string>();
  let offset = 0;
  for (const t of tensors) {
    if (!t.name || t.name === METADATA) throw new TwinLensError('INVALID_ARGUMENT', `safetensors: invalid tensor name "${t.name}"`);
    if (names.has(t.name)) throw new TwinLensError('INVALID_ARGUMENT', `safetensors: duplicate tensor name "${t.name}"`);
    names.add(t.name);
    if (!t.shape.every((d) => Number.isInteger(d) && d >= 0))
      throw new TwinLensError('INVALID_ARGUMENT', `safetensors: bad shape [${t.shape.join(',')}] for ${t.name}`);
    if (count(t.shape) !== t.data.length)
      throw new TwinLensError('INVALID_ARGUMENT', `safetensors: ${t.name} has shape [${t.shape.join(',')}] but ${t.data.length} values`);
    header[t.name] = { dtype: 'F32', shape: t.shape, data_offsets: [offset, offset + t.data.byteLength] };
    offset += t.data.byteLength;
  }
  const meta: Record<string, string> = {};
  for (const [k, v] of Object.entries(metadata)) {
    if (typeof v !== 'string') throw new TwinLensError('INVALID_ARGUMENT', `safetensors: metadata "${k}" must be a string`);
    meta[k] = v;
  }
  const json = JSON.stringify(Object.keys(meta).length ? { [METADATA]: meta, ...header } : header);
  let head = Buffer.from(json, 'utf8');
  const pad = (8 - (head.length % 8)) % 8;
  if (pad) head = Buffer.concat([head, Buffer.alloc(pad, 0x20)]);
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(head.length));
  return Buffer.concat([len, head, ...tensors.map((t) => Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength))]);
}

/** Decode a safetensors buffer with float32 tensors, checking offsets and sizes. */
export function decodeSafetensors(buf: Buffer): DecodedSafetensors {
  const bad = (why: string) => new TwinLensError('INVALID_ARGUMENT', `not a valid safetensors file: ${why}`);
  if (buf.length < 8) throw bad('shorter than 8 bytes');
  const n = buf.readBigUInt64LE(0);
  if (n > BigInt(Math.min(MAX_HEADER, buf.length - 8))) throw bad(`header length ${n} exceeds the file`);
  const headerLen = Number(n);
  let header: Record<string, unknown>;
  try {
    header = JSON.parse(buf.subarray(8, 8 + headerLen).toString('utf8'));
  } catch (e) {
    throw bad(`header is not JSON (${(e as Error).message})`);
  }
  if (!header || typeof header !== 'object' || Array.isArray(header)) throw bad('header is not an object');
  const base = 8 + headerLen;
  const dataLen = buf.length - base;
  const tensors = new Map<string, { shape: number[]; data: Float32Array }>();
  const metadata: Record<string, string> = {};
  const spans: Array<[number, number]> = [];
  for (const [name, entry] of Object.entries(header)) {
    if (name === METADATA) {
      for (const [k, v] of Object.entries(entry as Record<string, unknown>)) if (typeof v === 'string') metadata[k] = v;
      continue;
    }
    const e = entry as { dtype?: string; shape?: number[]; data_offsets?: [number, number] };
    if (e.dtype !== 'F32') throw new TwinLensError('INVALID_ARGUMENT', `safetensors: tensor ${name} is ${e.dtype}; only F32 is supported`);
    const [begin, end] = e.data_offsets ?? [-1, -1];
    const shape = e.shape ?? [];
    if (!(Number.isInteger(begin) && Number.isInteger(end) && begin >= 0 && end >= begin && end <= dataLen))
      throw bad(`tensor ${name} has offsets [${begin}, ${end}) outside ${dataLen} data bytes`);
    if (end - begin !== count(shape) * 4) throw bad(`tensor ${name}: shape [${shape.join(',')}] does not fit ${end - begin} bytes`);
    const data = new Float32Array(count(shape));
    Buffer.from(data.buffer).set(buf.subarray(base + begin, base + end));
    tensors.set(name, { shape, data });
    spans.push([begin, end]);
  }
  spans.sort((a, b) => a[0] - b[0]);
  let at = 0;
  for (const [b, e] of spans) {
    if (b !== at) throw bad('tensor data overlaps or leaves gaps');
    at = e;
  }
  if (at !== dataLen) throw bad(`data section has ${dataLen - at} trailing bytes`);
  return { tensors, metadata };
}
