/**
 * Exports that store one file per tensor (e.g. Hanbin42/stable-diffusion-onnx)
 * and precision variants (transformers.js `_fp16`, `_q4f16` …): the importer
 * must find every external-data file, count its bytes, link them all into the
 * pack so ONNX Runtime loads the model from there, and pick variants by name.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import onnxProto from 'onnx-proto';
import * as ort from 'onnxruntime-node';
import { afterAll, describe, expect, it } from 'vitest';
import { pickVariant, readOnnxComponent } from '../../../src/engine/importers/onnx-component.js';
import { PackPlacer } from '../../../src/engine/importers/placement.js';

const { onnx } = onnxProto;
const root = fs.mkdtempSync(path.join(os.tmpdir(), 'tl-extdata-'));
afterAll(() => fs.rmSync(root, { recursive: true, force: true }));

/** Y = X·W + B with W and B each in its own external file (weights/W.bin, weights/B.bin). */
function writePerTensorModel(dir: string): { w: Float32Array; b: Float32Array } {
  fs.mkdirSync(path.join(dir, 'weights'), { recursive: true });
  const w = Float32Array.from({ length: 12 }, (_, i) => i / 10);
  const b = Float32Array.from([1, 2, 3]);
  const ext = (name: string, dims: number[], data: Float32Array) => {
    fs.writeFileSync(path.join(dir, 'weights', `${name}.bin`), Buffer.from(data.buffer));
    return {
      name,
      dims,
      dataType: 1,
      dataLocation: 1,
      externalData: [
        { key: 'location', value: `weights/${name}.bin` },
        { key: 'length', value: String(data.byteLength) },
      ],
    };
  };
  const vi = (name: string, dims: number[]) => ({ name, type: { tensorType: { elemType: 1, shape: { dim: dims.map((d) => ({ dimValue: d })) } } } });
  const bytes = onnx.ModelProto.encode({
    irVersion: 8,
    opsetImport: [{ domain: '', version: 17 }],
    graph: {
      name: 'g',
      node: [
        { opType: 'MatMul', input: ['X', 'W'], output: ['XW'], name: '/linear/MatMul' },
        { opType: 'Add', input: ['XW', 'B'], output: ['Y'], name: '/linear/Add' },
      ],
      initializer: [ext('W', [4, 3], w), ext('B', [3], b)],
      input: [vi('X', [1, 4])],
      output: [vi('Y', [1, 3])],
    },
  }).finish();
  fs.writeFileSync(path.join(dir, 'model.onnx'), bytes);
  return { w, b };
}

describe('one external-data file per tensor', () => {
  it('finds, counts, links and loads every tensor file', async () => {
    const src = path.join(root, 'src', 'unet');
    const { w, b } = writePerTensorModel(src);
    const c = await readOnnxComponent(path.join(src, 'model.onnx'), 'unet');
    expect(c.externalData.sort()).toEqual(['weights/B.bin', 'weights/W.bin']);
    expect(c.totalBytes).toBe(fs.statSync(path.join(src, 'model.onnx')).size + 48 + 12);
    expect(c.weightBytes).toBe(60);

    const pack = path.join(root, 'pack');
    new PackPlacer(pack).onnx(c.model, c.externalData, 'sd/unet/model.onnx');
    expect(fs.statSync(path.join(pack, 'sd/unet/weights/W.bin')).ino).toBe(fs.statSync(path.join(src, 'weights/W.bin')).ino);
    const s = await ort.InferenceSession.create(path.join(pack, 'sd/unet/model.onnx'));
    const x = Float32Array.from([1, 0, 0, 1]);
    const y = (await s.run({ X: new ort.Tensor('float32', x, [1, 4]) })).Y.data as Float32Array;
    expect(Array.from(y).map((v) => Number(v.toFixed(5)))).toEqual([0, 1, 2].map((j) => Number((w[j] + w[9 + j] + b[j]).toFixed(5))));
    await s.release();

    fs.rmSync(path.join(src, 'weights/B.bin'));
    await expect(readOnnxComponent(path.join(src, 'model.onnx'), 'unet')).rejects.toThrow(/needs external data weights\/B\.bin, missing/);
  });
});

describe('precision variants', () => {
  it('prefers fp32, honours a requested variant and lists what exists', () => {
    const dir = path.join(root, 'onnx');
    fs.mkdirSync(dir, { recursive: true });
    for (const f of ['decoder_model_merged_fp16.onnx', 'decoder_model_merged_q4f16.onnx']) fs.writeFileSync(path.join(dir, f), '');
    expect(pickVariant(dir, 'decoder_model_merged', undefined, 'llm').variant).toBe('fp16');
    expect(path.basename(pickVariant(dir, 'decoder_model_merged', 'q4f16', 'llm').file)).toBe('decoder_model_merged_q4f16.onnx');
    expect(() => pickVariant(dir, 'decoder_model_merged', 'int8', 'llm')).toThrow(/decoder_model_merged_int8\.onnx is not in/);
    fs.writeFileSync(path.join(dir, 'decoder_model_merged.onnx'), '');
    expect(pickVariant(dir, 'decoder_model_merged', undefined, 'llm').variant).toBe('fp32');
    expect(() => pickVariant(dir, 'embed_tokens', undefined, 'llm')).toThrow(/no embed_tokens\*\.onnx/);
  });
});
