/**
 * NumPy .npy: one file per tensor, the group's main tensor as `<name>.npy`, the
 * others as `<name>_<tensor>.npy` (no metadata: the sidecar holds it).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { decodeNpy, encodeNpy } from '../npy.js';
import type { TensorFormat } from './types.js';

export const npyFormat: TensorFormat = {
  id: 'npy',
  encode: (name, tensors, _metadata, main) =>
    tensors.map((t) => ({ name: t.name === main ? `${name}.npy` : `${name}_${t.name}.npy`, data: encodeNpy(t.data, t.shape) })),
  decode(dir, name, files, main) {
    const npys = files.filter((f) => f.format === 'npy');
    if (!npys.length) return undefined;
    const out = new Map<string, Float32Array>();
    for (const f of npys) {
      const suffix = f.name.slice(name.length, -'.npy'.length);
      out.set(suffix ? suffix.replace(/^_/, '') : main, decodeNpy(fs.readFileSync(path.join(dir, f.name))).data);
    }
    return out;
  },
};
