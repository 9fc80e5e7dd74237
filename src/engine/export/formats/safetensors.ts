/** safetensors: every tensor of a group in one file, with the request as string metadata. */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { decodeSafetensors, encodeSafetensors } from '../safetensors.js';
import type { TensorFormat } from './types.js';

export const safetensorsFormat: TensorFormat = {
  id: 'safetensors',
  encode: (name, tensors, metadata) => [{ name: `${name}.safetensors`, data: encodeSafetensors([...tensors], metadata) }],
  decode(dir, name, files) {
    const file = path.join(dir, `${name}.safetensors`);
    if (!files.some((f) => f.format === 'safetensors') || !fs.existsSync(file)) return undefined;
    const out = new Map<string, Float32Array>();
    for (const [k, v] of decodeSafetensors(fs.readFileSync(file)).tensors) out.set(k, v.data);
    return out;
  },
};
