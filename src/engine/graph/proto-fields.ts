/**
 * Field-level access to protobuf bytes, the basis of lossless graph surgery.
 *
 * An ONNX file is one `ModelProto`. Decoding it whole with onnx-proto (ONNX
 * 1.10's schema) would materialise every inline weight and silently drop fields
 * that newer ONNX versions added. Instead the graph code walks messages field by
 * field with protobufjs's Reader, remembers where each field's bytes are, decodes
 * only the small messages it needs (nodes, value infos) and copies everything it
 * does not change byte for byte. This file holds that walker and the helpers to
 * assemble new files from original byte ranges plus a few newly encoded fields.
 */
import protobuf from 'protobufjs/minimal.js';

export const WIRE_VARINT = 0;
export const WIRE_FIXED64 = 1;
export const WIRE_LEN = 2;
export const WIRE_FIXED32 = 5;

/** Where one field of a message sits, as absolute offsets into the walked buffer. */
export interface FieldSpan {
  field: number;
  wire: number;
  /** Offset of the field's tag: `bytes.subarray(start, end)` is the whole field, tag included. */
  start: number;
  /** Offset of the payload (after the length prefix for length-delimited fields). */
  dataStart: number;
  end: number;
}

/** A malformed or truncated message, with the offset where reading failed. */
export class ProtoWalkError extends Error {
  readonly offset: number;
  readonly truncated: boolean;
  constructor(message: string, offset: number, truncated: boolean) {
    super(message);
    this.name = 'ProtoWalkError';
    this.offset = offset;
    this.truncated = truncated;
  }
}

/**
 * Lists the fields of the message encoded in `buf[from, to)` without decoding
 * their payloads. Offsets in the result are absolute (relative to `buf`).
 */
export function walkFields(buf: Uint8Array, from = 0, to = buf.length): FieldSpan[] {
  const view = from === 0 && to === buf.length ? buf : buf.subarray(from, to);
  const reader = protobuf.Reader.create(view);
  const spans: FieldSpan[] = [];
  let start = 0;
  try {
    while (reader.pos < reader.len) {
      start = reader.pos;
      const tag = reader.uint32();
      const field = tag >>> 3;
      const wire = tag & 7;
      if (field === 0) throw new ProtoWalkError(`invalid field number 0 at byte ${from + start}`, from + start, false);
      let dataStart: number;
      if (wire === WIRE_LEN) {
        const length = reader.uint32();
        dataStart = reader.pos;
        reader.skip(length);
      } else {
        dataStart = reader.pos;
        reader.skipType(wire);
      }
      spans.push({ field, wire, start: from + start, dataStart: from + dataStart, end: from + reader.pos });
    }
  } catch (e) {
    if (e instanceof ProtoWalkError) throw e;
    const truncated = e instanceof RangeError;
    const what = truncated ? 'message ends early (truncated)' : `malformed field (${(e as Error).message})`;
    throw new ProtoWalkError(`${what} at byte ${from + start}`, from + start, truncated);
  }
  return spans;
}

/** The payload of a length-delimited field. */
export function payloadOf(buf: Uint8Array, span: FieldSpan): Uint8Array {
  return buf.subarray(span.dataStart, span.end);
}

/** The raw bytes of a whole field, tag and length prefix included. */
export function rawField(buf: Uint8Array, span: FieldSpan): Uint8Array {
  return buf.subarray(span.start, span.end);
}

/** Reads a varint field as a JS number (exact up to 2^53). */
export function varintOf(buf: Uint8Array, span: FieldSpan): number {
  if (span.wire !== WIRE_VARINT) return 0;
  return toNumber(protobuf.Reader.create(buf.subarray(span.dataStart, span.end)).int64());
}

/** Reads a string field. */
export function stringOf(buf: Uint8Array, span: FieldSpan): string {
  if (span.wire !== WIRE_LEN) return '';
  return Buffer.from(buf.buffer, buf.byteOffset + span.dataStart, span.end - span.dataStart).toString('utf8');
}

/** Reads a repeated int64 field occurrence, packed or not. */
export function int64sOf(buf: Uint8Array, span: FieldSpan): number[] {
  const reader = protobuf.Reader.create(buf.subarray(span.dataStart, span.end));
  if (span.wire === WIRE_VARINT) return [toNumber(reader.int64())];
  const out: number[] = [];
  while (reader.pos < reader.len) out.push(toNumber(reader.int64()));
  return out;
}

/** protobufjs returns 64-bit integers as Long objects when `long` is installed. */
export function toNumber(v: unknown): number {
  if (typeof v === 'number') return v;
  if (v && typeof v === 'object' && 'toNumber' in v && typeof (v as { toNumber: unknown }).toNumber === 'function') {
    return (v as { toNumber(): number }).toNumber();
  }
  return Number(v ?? 0);
}

/** Encodes a length-delimited field: tag, length, payload. */
export function encodeLenField(field: number, payload: Uint8Array): Uint8Array {
  return protobuf.Writer.create()
    .uint32(((field << 3) | WIRE_LEN) >>> 0)
    .bytes(payload)
    .finish();
}

/** Encodes only the tag and length prefix of a length-delimited field whose payload follows separately. */
export function encodeLenHeader(field: number, length: number): Uint8Array {
  return protobuf.Writer.create()
    .uint32(((field << 3) | WIRE_LEN) >>> 0)
    .uint32(length)
    .finish();
}

/**
 * An ordered list of byte pieces to write out, most of them views into the
 * original file. Adjacent views of the same buffer are merged, so copying a run
 * of untouched fields costs one piece instead of thousands.
 */
export class ByteChunks {
  readonly pieces: Uint8Array[] = [];
  private total = 0;

  push(piece: Uint8Array): this {
    if (piece.length === 0) return this;
    const last = this.pieces[this.pieces.length - 1];
    if (last && last.buffer === piece.buffer && last.byteOffset + last.length === piece.byteOffset) {
      this.pieces[this.pieces.length - 1] = new Uint8Array(last.buffer, last.byteOffset, last.length + piece.length);
    } else {
      this.pieces.push(piece);
    }
    this.total += piece.length;
    return this;
  }

  append(other: ByteChunks): this {
    for (const p of other.pieces) this.push(p);
    return this;
  }

  get length(): number {
    return this.total;
  }

  /** One contiguous buffer; only for small results (tests, graph payloads of external-data models). */
  concat(): Buffer {
    return Buffer.concat(this.pieces, this.total);
  }
}
