/**
 * The web mode's WebSocket wire format, shared by the server (Node) and the
 * browser bridge (src/renderer/bridge/ws-bridge.ts); it lives in src/shared so both import the same file. Pure TypeScript with no
 * Node or DOM imports, so both sides use the very same encoder and decoder.
 *
 * Why not plain JSON: feature maps and cross-attention maps are Float32Arrays
 * of hundreds of thousands of values, and uploaded images are bytes. JSON
 * number arrays would be ~10× larger and slow to parse, so a message that
 * holds typed arrays travels as ONE binary frame:
 *
 *   "TLW1" | u32 LE header length | header JSON (utf-8) | pad to 8 | blob 0 | pad | blob 1 ...
 *
 * In the header each typed array is replaced by a placeholder
 * `{"__tlbin": index, "type": "Float32Array", "offset": n, "byteLength": n}`.
 * Messages without typed arrays are sent as text frames of plain JSON.
 */
import type { ProviderChoiceName } from './contract.js';

const MAGIC = [0x54, 0x4c, 0x57, 0x31]; // "TLW1"
const PLACEHOLDER = '__tlbin';

type TypedArrayCtor =
  | Float32ArrayConstructor
  | Float64ArrayConstructor
  | Uint8ArrayConstructor
  | Int8ArrayConstructor
  | Uint16ArrayConstructor
  | Int16ArrayConstructor
  | Uint32ArrayConstructor
  | Int32ArrayConstructor
  | BigInt64ArrayConstructor
  | BigUint64ArrayConstructor;

const CTORS: Record<string, TypedArrayCtor> = {
  Float32Array,
  Float64Array,
  Uint8Array,
  Int8Array,
  Uint16Array,
  Int16Array,
  Uint32Array,
  Int32Array,
  BigInt64Array,
  BigUint64Array,
};

type View = ArrayBufferView & { constructor: { name: string } };

interface Placeholder {
  [PLACEHOLDER]: number;
  type: string;
  offset: number;
  byteLength: number;
}

function isView(v: unknown): v is View {
  return ArrayBuffer.isView(v) && !(v instanceof DataView);
}

/** The typed-array class name to rebuild on the other side (Node Buffers become Uint8Array). */
function viewType(v: View): string {
  if (typeof Uint8Array !== 'undefined' && v instanceof Uint8Array) return 'Uint8Array';
  for (const [name, ctor] of Object.entries(CTORS)) if (v instanceof ctor) return name;
  throw new Error(`wire: unsupported typed array ${v.constructor.name}`);
}

const align8 = (n: number) => (n + 7) & ~7;

/** Encode one message: a string when it holds no typed arrays, else one binary frame. */
export function encodeMessage(msg: unknown): string | Uint8Array {
  const blobs: View[] = [];
  let offset = 0;
  const walk = (v: unknown, depth: number): unknown => {
    if (depth > 64) throw new Error('wire: message nested too deeply');
    if (isView(v)) {
      const p: Placeholder = { [PLACEHOLDER]: blobs.length, type: viewType(v), offset, byteLength: v.byteLength };
      blobs.push(v);
      offset = align8(offset + v.byteLength);
      return p;
    }
    if (Array.isArray(v)) return v.map((x) => walk(x, depth + 1));
    if (v && typeof v === 'object' && !(v instanceof Date)) {
      const out: Record<string, unknown> = {};
      for (const [k, x] of Object.entries(v)) if (x !== undefined) out[k] = walk(x, depth + 1);
      return out;
    }
    return v;
  };
  const header = walk(msg, 0);
  const json = JSON.stringify(header);
  if (blobs.length === 0) return json;

  const headerBytes = new TextEncoder().encode(json);
  const dataStart = align8(8 + headerBytes.byteLength);
  const frame = new Uint8Array(dataStart + offset);
  frame.set(MAGIC, 0);
  new DataView(frame.buffer).setUint32(4, headerBytes.byteLength, true);
  frame.set(headerBytes, 8);
  let at = dataStart;
  for (const b of blobs) {
    frame.set(new Uint8Array(b.buffer, b.byteOffset, b.byteLength), at);
    at = align8(at + b.byteLength);
  }
  return frame;
}

/** Decode a text or binary frame back into a message with real typed arrays. Throws on malformed input. */
export function decodeMessage(data: string | ArrayBuffer | Uint8Array): unknown {
  if (typeof data === 'string') return revive(JSON.parse(data), undefined, 0);
  const bytes = data instanceof Uint8Array ? data : new Uint8Array(data);
  if (bytes.byteLength < 8 || MAGIC.some((m, i) => bytes[i] !== m)) throw new Error('wire: not a TwinLens frame');
  const headerLength = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getUint32(4, true);
  if (8 + headerLength > bytes.byteLength) throw new Error('wire: truncated header');
  const header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + headerLength)));
  const dataStart = align8(8 + headerLength);
  return revive(header, bytes.subarray(dataStart), 0);
}

function revive(v: unknown, blobs: Uint8Array | undefined, depth: number): unknown {
  if (depth > 64) throw new Error('wire: message nested too deeply');
  if (Array.isArray(v)) return v.map((x) => revive(x, blobs, depth + 1));
  if (!v || typeof v !== 'object') return v;
  const o = v as Record<string, unknown>;
  if (PLACEHOLDER in o) {
    const { type, offset, byteLength } = o as unknown as Placeholder;
    const ctor = CTORS[type];
    if (!blobs || !ctor) throw new Error('wire: binary placeholder without binary data');
    if (!Number.isInteger(offset) || !Number.isInteger(byteLength) || offset < 0 || byteLength < 0 || offset + byteLength > blobs.byteLength) {
      throw new Error('wire: binary placeholder out of range');
    }
    if (byteLength % ctor.BYTES_PER_ELEMENT !== 0) throw new Error('wire: binary length not a multiple of the element size');
    // Copy into a fresh, aligned buffer so Float32Array views are valid whatever the offset.
    const copy = blobs.slice(offset, offset + byteLength);
    return new ctor(copy.buffer, 0, byteLength / ctor.BYTES_PER_ELEMENT);
  }
  const out: Record<string, unknown> = {};
  for (const [k, x] of Object.entries(o)) out[k] = revive(x, blobs, depth + 1);
  return out;
}

/** Messages from the browser to the server. */
export type ClientMessage =
  | { type: 'call'; id: string; method: string; params: unknown }
  | { type: 'cancel'; id: string }
  /** Host control, not an engine method: kill and restart the engine ("Reload Engine"). */
  | { type: 'restart-engine'; provider?: ProviderChoiceName };

/** The engine process' life as the host sees it (mirrors EngineClient's EngineState). */
export interface WireEngineState {
  state: 'starting' | 'ready' | 'crashed' | 'stopped';
  message?: string;
  restarts: number;
  pid?: number;
}

/** Messages from the server to the browser. */
export type ServerMessage =
  | { type: 'hello'; engine: WireEngineState; packDir?: string; provider?: string }
  | { type: 'engine'; engine: WireEngineState }
  /** Another client opened a pack: the engine now serves it for everyone. */
  | { type: 'pack'; pack: unknown }
  | { type: 'event'; id: string; event: unknown }
  | { type: 'result'; id: string; result: unknown }
  | { type: 'error'; id: string; error: { code: string; message: string; hint?: string } };
