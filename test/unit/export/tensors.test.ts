/**
 * .safetensors and .npy as other tools read them: round trips that keep
 * every bit (NaN payloads, −0, subnormals), the layout rules of each format,
 * refusal of malformed files, and — the point of exporting — an independent
 * reader: Python's numpy.load for .npy, and for .safetensors a few lines of
 * Python parsing the header with json and the data with numpy.frombuffer.
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { decodeNpy, encodeNpy } from '../../../src/engine/export/npy.js';
import { decodeSafetensors, encodeSafetensors } from '../../../src/engine/export/safetensors.js';
import { hasNumpy, PY } from '../../helpers/python.js';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'twinlens-tensors-'));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

/** Values that expose any lossy step: NaN with a payload, ±0, ±Inf, subnormals, extremes. */
function tricky(n: number): Float32Array {
  const a = new Float32Array(n);
  const u = new Uint32Array(a.buffer);
  for (let i = 0; i < n; i++) a[i] = Math.sin(i * 12.9898) * 10 ** ((i % 7) - 3);
  u[0] = 0x7fc12345; // NaN with payload
  u[1] = 0x80000000; // −0
  u[2] = 0x00000001; // smallest subnormal
  u[3] = 0x7f800000; // +Inf
  u[4] = 0xff7fffff; // −max
  return a;
}

const bits = (a: Float32Array) =>
  createHash('sha256')
    .update(Buffer.from(a.buffer, a.byteOffset, a.byteLength))
    .digest('hex');

describe('safetensors', () => {
  const a = tricky(6 * 5);
  const b = tricky(7);
  const file = encodeSafetensors(
    [
      { name: 'guided', shape: [6, 5], data: a },
      { name: 'cond', shape: [7], data: b },
    ],
    { tap: 'U-L1-R1-B0-Cross-Q', t: '50', prompt: 'what colour is the "circle"? ✓' },
  );

  it('lays out length, padded JSON header and contiguous data', () => {
    const n = Number(file.readBigUInt64LE(0));
    expect(n % 8).toBe(0);
    const header = JSON.parse(file.subarray(8, 8 + n).toString('utf8'));
    expect(header.guided).toEqual({ dtype: 'F32', shape: [6, 5], data_offsets: [0, 120] });
    expect(header.cond).toEqual({ dtype: 'F32', shape: [7], data_offsets: [120, 148] });
    expect(header.__metadata__.tap).toBe('U-L1-R1-B0-Cross-Q');
    expect(file.length).toBe(8 + n + 148);
  });

  it('round-trips bit-exactly with metadata', () => {
    const d = decodeSafetensors(file);
    expect(bits(d.tensors.get('guided')!.data)).toBe(bits(a));
    expect(bits(d.tensors.get('cond')!.data)).toBe(bits(b));
    expect(d.tensors.get('guided')!.shape).toEqual([6, 5]);
    expect(d.metadata.prompt).toBe('what colour is the "circle"? ✓');
  });

  it('refuses bad input when writing and malformed files when reading', () => {
    expect(() => encodeSafetensors([{ name: 'x', shape: [2, 2], data: new Float32Array(3) }])).toThrow(/shape/);
    expect(() =>
      encodeSafetensors([
        { name: 'x', shape: [1], data: new Float32Array(1) },
        { name: 'x', shape: [1], data: new Float32Array(1) },
      ]),
    ).toThrow(/duplicate/);
    expect(() => encodeSafetensors([{ name: '__metadata__', shape: [1], data: new Float32Array(1) }])).toThrow(/invalid tensor name/);
    expect(() => decodeSafetensors(Buffer.alloc(4))).toThrow(/shorter/);
    expect(() => decodeSafetensors(file.subarray(0, file.length - 4))).toThrow(/outside|fit/);
    const head = (h: object, data = 0) => {
      let j = Buffer.from(JSON.stringify(h));
      const len = Buffer.alloc(8);
      len.writeBigUInt64LE(BigInt(j.length));
      j = Buffer.concat([len, j, Buffer.alloc(data)]);
      return j;
    };
    expect(() => decodeSafetensors(head({ x: { dtype: 'F16', shape: [1], data_offsets: [0, 2] } }, 2))).toThrow(/only F32/);
    expect(() => decodeSafetensors(head({ x: { dtype: 'F32', shape: [1], data_offsets: [4, 8] } }, 8))).toThrow(/gaps/);
    expect(() => decodeSafetensors(head({ x: { dtype: 'F32', shape: [1], data_offsets: [0, 4] } }, 8))).toThrow(/trailing/);
    const big = Buffer.alloc(16);
    big.writeBigUInt64LE(1000n);
    expect(() => decodeSafetensors(big)).toThrow(/exceeds/);
  });

  it.skipIf(!hasNumpy)('is read bit-exactly by json + numpy.frombuffer in Python', () => {
    const f = path.join(dir, 'x.safetensors');
    fs.writeFileSync(f, file);
    const script = [
      'import json, struct, sys, hashlib, numpy as np',
      'raw = open(sys.argv[1], "rb").read()',
      'n = struct.unpack("<Q", raw[:8])[0]',
      'header = json.loads(raw[8:8 + n])',
      'meta = header.pop("__metadata__", {})',
      'out = {"meta": meta}',
      'for name, e in header.items():',
      '    b, end = e["data_offsets"]',
      '    a = np.frombuffer(raw[8 + n + b:8 + n + end], dtype="<f4").reshape(e["shape"])',
      '    out[name] = [list(a.shape), hashlib.sha256(a.tobytes()).hexdigest()]',
      'print(json.dumps(out))',
    ].join('\n');
    const r = spawnSync(PY, ['-c', script, f], { encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out.guided).toEqual([[6, 5], bits(a)]);
    expect(out.cond).toEqual([[7], bits(b)]);
    expect(out.meta.t).toBe('50');
  });
});

describe('npy', () => {
  it('round-trips bit-exactly and aligns the data to 64 bytes', () => {
    const a = tricky(2 * 3 * 4);
    const buf = encodeNpy(a, [2, 3, 4]);
    expect((10 + buf.readUInt16LE(8)) % 64).toBe(0);
    const d = decodeNpy(buf);
    expect(d.shape).toEqual([2, 3, 4]);
    expect(bits(d.data)).toBe(bits(a));
    expect(() => encodeNpy(a, [5])).toThrow(/shape/);
  });

  it.skipIf(!hasNumpy)('is read bit-exactly by numpy.load (1-D, 2-D, 3-D)', () => {
    const cases: Array<[number[], Float32Array]> = [
      [[7], tricky(7)],
      [[16, 24], tricky(16 * 24)],
      [[3, 4, 4], tricky(48)],
    ];
    const files = cases.map(([shape, data], i) => {
      const f = path.join(dir, `a${i}.npy`);
      fs.writeFileSync(f, encodeNpy(data, shape));
      return f;
    });
    const r = spawnSync(
      PY,
      [
        '-c',
        'import sys, json, hashlib, numpy as np\nprint(json.dumps([[str(a.dtype), list(a.shape), hashlib.sha256(a.tobytes()).hexdigest()] for a in map(np.load, sys.argv[1:])]))',
        ...files,
      ],
      { encoding: 'utf8' },
    );
    expect(r.status, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual(cases.map(([shape, data]) => ['float32', shape, bits(data)]));
  });
});
