/**
 * NumPy .npy (format 1.0) writing and reading for float32 tensors: the
 * format every analysis tool reads. Little-endian '<f4', C order, header
 * padded so the data starts on a 64-byte boundary as numpy does.
 */
import { TwinLensError } from '../../shared/errors.js';

const MAGIC = Buffer.from([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]);

export function encodeNpy(data: Float32Array, shape: number[]): Buffer {
  const n = shape.reduce((a, b) => a * b, 1);
  if (n !== data.length) throw new TwinLensError('INTERNAL', `npy: shape [${shape.join(',')}] holds ${n} values, data has ${data.length}`);
  const shapeStr = shape.length === 1 ? `(${shape[0]},)` : `(${shape.join(', ')})`;
  let header = `{'descr': '<f4', 'fortran_order': False, 'shape': ${shapeStr}, }`;
  const unpadded = MAGIC.length + 2 + 2 + header.length + 1;
  header += ' '.repeat((64 - (unpadded % 64)) % 64) + '\n';
  const head = Buffer.alloc(MAGIC.length + 4);
  MAGIC.copy(head, 0);
  head[6] = 1;
  head[7] = 0;
  head.writeUInt16LE(header.length, 8);
  const body = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  return Buffer.concat([head, Buffer.from(header, 'latin1'), body]);
}

export function decodeNpy(buf: Buffer): { shape: number[]; data: Float32Array } {
  if (buf.length < 10 || !buf.subarray(0, 6).equals(MAGIC)) throw new TwinLensError('INVALID_ARGUMENT', 'not an .npy file');
  const major = buf[6];
  const hlen = major === 1 ? buf.readUInt16LE(8) : buf.readUInt32LE(8);
  const start = major === 1 ? 10 : 12;
  const header = buf.subarray(start, start + hlen).toString('latin1');
  if (!/'descr':\s*'<f4'/.test(header) || /'fortran_order':\s*True/.test(header))
    throw new TwinLensError('INVALID_ARGUMENT', `npy: only C-order float32 is supported (${header.trim()})`);
  const m = /'shape':\s*\(([^)]*)\)/.exec(header);
  const shape = (m?.[1] ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)
    .map(Number);
  const off = start + hlen;
  const bytes = buf.subarray(off);
  const data = new Float32Array(bytes.length / 4);
  Buffer.from(data.buffer).set(bytes);
  return { shape, data };
}
