/**
 * readGraphIndex: lists nodes, graph inputs/outputs, initializers and their
 * external-data files without decoding weights, reads merged `graph` fields as
 * one graph, and turns unreadable files into ONNX_LOAD_FAILED.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { TwinLensError } from '../../../src/shared/errors.js';
import { elementTypeName, feedInputs, readGraphIndex } from '../../../src/engine/graph/onnx-index.js';
import { buildTinyUnet, onnx, writeTinyUnet } from './tiny-unet.js';

const dir = mkdtempSync(join(tmpdir(), 'twinlens-index-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function loadError(bytes: Uint8Array, name: string): Promise<TwinLensError> {
  const path = join(dir, name);
  writeFileSync(path, bytes);
  const err = await readGraphIndex(path).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(TwinLensError);
  return err as TwinLensError;
}

describe('readGraphIndex', () => {
  it('lists nodes in file order with torch-style names, inputs and outputs', async () => {
    const { path, model } = writeTinyUnet(join(dir, 'inline'));
    const index = await readGraphIndex(path);
    expect(index.nodes).toHaveLength(model.nodeCount);
    expect(index.nodes[0]).toEqual({ name: '/time_proj/Cast', opType: 'Cast', domain: '', inputs: ['timestep'], outputs: ['/time_proj/Cast_output_0'] });
    const q = index.nodes.find((n) => n.name === '/up_blocks.1/attentions.1/transformer_blocks.0/attn2/to_q/MatMul');
    expect(q?.opType).toBe('MatMul');
    expect(q?.outputs).toEqual(['/up_blocks.1/attentions.1/transformer_blocks.0/attn2/to_q/MatMul_output_0']);
    expect(index.nodes.at(-1)?.outputs).toEqual(['out_sample']);
    expect(index.irVersion).toBe(8);
    expect(index.producer).toBe('twinlens-test');
    expect(index.opsets).toEqual([{ domain: '', version: 17 }]);
    expect(index.graphName).toBe('tiny_unet');
  });

  it('reads element types and fixed or symbolic dims of graph inputs and outputs', async () => {
    const index = await readGraphIndex(writeTinyUnet(join(dir, 'types')).path);
    expect(index.inputs).toEqual([
      { name: 'sample', elementType: 'float32', dims: ['batch', 4, 2, 2] },
      { name: 'timestep', elementType: 'int64', dims: [1] },
      { name: 'encoder_hidden_states', elementType: 'float32', dims: ['batch', 3, 4] },
    ]);
    expect(index.outputs).toEqual([{ name: 'out_sample', elementType: 'float32', dims: ['batch', 4, 2, 2] }]);
    expect(index.valueInfo.map((v) => v.name)).toEqual(['/down_blocks.2/resnets.0/Add_1_output_0']);
    expect(feedInputs(index).map((v) => v.name)).toEqual(['sample', 'timestep', 'encoder_hidden_states']);
    expect(elementTypeName(10)).toBe('float16');
    expect(elementTypeName(99)).toBe('type99');
  });

  it('lists initializers and flags external data with its location', async () => {
    const inline = await readGraphIndex(writeTinyUnet(join(dir, 'inl2')).path);
    expect(inline.usesExternalData).toBe(false);
    expect(inline.externalDataFiles).toEqual([]);
    const conv = inline.initializers.find((t) => t.name === 'conv_out.weight');
    expect(conv).toEqual({ name: 'conv_out.weight', elementType: 'float32', dims: [4, 4, 1, 1], external: false, inlineBytes: 64 });

    const ext = await readGraphIndex(writeTinyUnet(join(dir, 'ext'), { external: true }).path);
    expect(ext.usesExternalData).toBe(true);
    expect(ext.externalDataFiles).toEqual(['weights.pb']);
    expect(ext.initializers.find((t) => t.name === 'conv_out.weight')).toMatchObject({
      external: true,
      location: 'weights.pb',
      inlineBytes: 0,
      dims: [4, 4, 1, 1],
    });
    expect(ext.initializers.map((t) => t.name)).toEqual(inline.initializers.map((t) => t.name));
  });

  it('skips large inline raw_data by its length instead of decoding it', async () => {
    const floats = 4 * 1024 * 1024; // 16 MiB of inline weights
    const { path } = writeTinyUnet(join(dir, 'big'), { bigInitializerFloats: floats });
    const t0 = performance.now();
    const index = await readGraphIndex(path);
    const ms = performance.now() - t0;
    const big = index.initializers.find((t) => t.name === 'unused.big');
    expect(big).toMatchObject({ dims: [floats], inlineBytes: floats * 4, external: false });
    expect(index.fileBytes).toBeGreaterThan(floats * 4);
    expect(ms).toBeLessThan(2000);
  });

  it('reads repeated graph fields (a protobuf merge) as one graph', async () => {
    const base = buildTinyUnet();
    const extra = onnx.ModelProto.encode({ graph: { output: [{ name: '/time_proj/Mul_output_0' }] } }).finish();
    const path = join(dir, 'merged.onnx');
    writeFileSync(path, Buffer.concat([base.bytes, extra]));
    const index = await readGraphIndex(path);
    expect(index.outputs.map((o) => o.name)).toEqual(['out_sample', '/time_proj/Mul_output_0']);
    expect(index.outputs[1]).toEqual({ name: '/time_proj/Mul_output_0' });
    expect(index.nodes).toHaveLength(base.nodeCount);
  });

  it('records outer-scope tensors that subgraphs read as implicit inputs', async () => {
    const branch = (out: string) => ({
      name: 'branch',
      node: [{ name: `/b/${out}`, opType: 'Identity', input: ['outer'], output: [out] }],
      output: [{ name: out }],
    });
    const bytes = onnx.ModelProto.encode({
      irVersion: 8,
      opsetImport: [{ version: 17 }],
      graph: {
        node: [
          { name: '/Identity', opType: 'Identity', input: ['x'], output: ['outer'] },
          {
            name: '/If',
            opType: 'If',
            input: ['cond'],
            output: ['y'],
            attribute: [
              { name: 'then_branch', type: 5, g: branch('t') },
              { name: 'else_branch', type: 5, g: branch('e') },
            ],
          },
        ],
        input: [{ name: 'x' }, { name: 'cond' }],
        output: [{ name: 'y' }],
      },
    }).finish();
    const path = join(dir, 'if.onnx');
    writeFileSync(path, bytes);
    const index = await readGraphIndex(path);
    expect(index.nodes[1].implicitInputs).toEqual(['outer']);
    expect(index.nodes[0].implicitInputs).toBeUndefined();
  });
});

describe('readGraphIndex on unreadable files', () => {
  const good = buildTinyUnet().bytes;

  it('reports a truncated file as ONNX_LOAD_FAILED', async () => {
    const err = await loadError(good.subarray(0, Math.floor(good.length * 0.6)), 'truncated.onnx');
    expect(err.code).toBe('ONNX_LOAD_FAILED');
    expect(err.message).toMatch(/truncated\.onnx is not a readable ONNX model: the protobuf ends early at byte \d+ \(truncated file\)/);
    expect(err.hint).toMatch(/Re-download or re-export/);
  });

  it('reports garbage, empty files, LFS pointers and missing files clearly', async () => {
    const garbage = await loadError(Buffer.from('this is not a protobuf at all, just text\n'), 'garbage.onnx');
    expect(garbage.code).toBe('ONNX_LOAD_FAILED');
    expect(garbage.message).toMatch(/not a readable ONNX model/);

    const empty = await loadError(new Uint8Array(0), 'empty.onnx');
    expect(empty.message).toMatch(/the file is empty/);

    const lfs = await loadError(Buffer.from('version https://git-lfs.github.com/spec/v1\noid sha256:abc\nsize 12\n'), 'lfs.onnx');
    expect(lfs.message).toMatch(/Git LFS pointer/);

    const noGraph = await loadError(onnx.ModelProto.encode({ irVersion: 8, producerName: 'x' }).finish(), 'nograph.onnx');
    expect(noGraph.message).toMatch(/has no graph/);

    const missing = (await readGraphIndex(join(dir, 'nope.onnx')).then(
      () => undefined,
      (e: unknown) => e,
    )) as TwinLensError;
    expect(missing).toBeInstanceOf(TwinLensError);
    expect(missing.code).toBe('ONNX_LOAD_FAILED');
    expect(missing.message).toMatch(/does not exist/);
  });
});
