/**
 * The importers' decisions on synthetic inputs shaped like real exports:
 * family from unet/config.json (768 → sd1, 1024 → sd2, linear projection),
 * VAE scale and image size with their sources, fused-attention detection and
 * its reasons (contrib ops, graphs without module names), and placement
 * (hard link, copy fallback across file systems, refusal for big files).
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { GraphIndex, GraphNode } from '../../../src/engine/graph/onnx-index.js';
import { checkAttention } from '../../../src/engine/importers/attention-check.js';
import { COPY_FALLBACK_BYTES, PackPlacer } from '../../../src/engine/importers/placement.js';
import { detectFamily, inferImageSize, vaeScaleFactor } from '../../../src/engine/importers/unet-family.js';

function graph(nodes: Array<Partial<GraphNode> & { name: string }>): GraphIndex {
  return {
    modelPath: '/x/unet/model.onnx',
    fileBytes: 0,
    irVersion: 8,
    producer: 'test',
    opsets: [],
    graphName: 'g',
    nodes: nodes.map((n) => ({ opType: 'MatMul', domain: '', inputs: [], outputs: [`${n.name}_output_0`], ...n })),
    inputs: [],
    outputs: [],
    valueInfo: [],
    initializers: [],
    sparseInitializers: [],
    usesExternalData: false,
    externalDataFiles: [],
  };
}

const STUDY_MODULES = [
  '/up_blocks.1/attentions.1/transformer_blocks.0/attn2/to_q/MatMul',
  '/down_blocks.2/attentions.0/transformer_blocks.0/attn2/to_q/MatMul',
  '/up_blocks.1/attentions.1/transformer_blocks.0/Add_2',
  '/up_blocks.1/attentions.2/transformer_blocks.0/attn2/to_q/MatMul',
  '/up_blocks.2/attentions.1/transformer_blocks.0/attn2/to_q/MatMul',
  '/up_blocks.2/resnets.2/Add_1',
];

describe('family, VAE scale and image size', () => {
  it('reads cross_attention_dim first, then the projection kind, and says where from', () => {
    expect(detectFamily({ config: { cross_attention_dim: 768 } })).toMatchObject({ value: 'sd1', source: 'unet/config.json cross_attention_dim = 768' });
    expect(detectFamily({ config: { cross_attention_dim: 1024, use_linear_projection: true } })).toMatchObject({ value: 'sd2' });
    expect(detectFamily({ textHiddenSize: 1024 })).toMatchObject({ value: 'sd2', source: 'the text encoder width = 1024' });
    expect(detectFamily({ config: { cross_attention_dim: 32, use_linear_projection: true } })).toMatchObject({
      value: 'sd2',
      source: expect.stringMatching(/use_linear_projection/),
    });
    const conv = graph([{ name: '/down_blocks.0/attentions.0/proj_in/Conv', opType: 'Conv' }]);
    expect(detectFamily({ graph: conv })).toMatchObject({ value: 'sd1', source: expect.stringMatching(/1×1 Conv/) });
    expect(detectFamily({})).toMatchObject({ value: 'sd1', source: expect.stringMatching(/assumed/) });
  });

  it('derives the image size from sample_size, a static UNet shape, or assumes 512', () => {
    const eight = vaeScaleFactor(undefined, undefined);
    expect(eight).toMatchObject({ value: 8, source: expect.stringMatching(/default/) });
    expect(vaeScaleFactor({ block_out_channels: [128, 256, 512, 512] }, undefined).value).toBe(8);
    const vae = graph([0, 1].map((i) => ({ name: `/encoder/down_blocks.${i}/downsamplers.0/conv/Conv`, opType: 'Conv' })));
    expect(vaeScaleFactor(undefined, vae)).toMatchObject({ value: 4, source: expect.stringMatching(/2 downsampler convs/) });
    expect(inferImageSize({ sample_size: 96 }, undefined, eight)).toMatchObject({ value: 768 });
    expect(inferImageSize(undefined, ['batch', 4, 64, 64], eight)).toMatchObject({ value: 512, source: expect.stringMatching(/static sample shape/) });
    expect(inferImageSize(undefined, ['batch', 4, 'height', 'width'], eight)).toMatchObject({ value: 512, source: expect.stringMatching(/--image-size 768/) });
  });
});

describe('fused-attention detection', () => {
  it('finds softmax maps and all study taps in an unoptimised graph', () => {
    const g = graph([...STUDY_MODULES.map((name) => ({ name })), { name: '/up_blocks.1/attentions.1/transformer_blocks.0/attn2/Softmax', opType: 'Softmax' }]);
    const r = checkAttention(g);
    expect(r.optimised).toBe(false);
    expect(r.crossAttentionMaps).toEqual({ available: true, count: 1 });
    expect(r.studyTaps.every((t) => t.available)).toBe(true);
  });

  it('explains missing maps and taps in an attention-fused graph', () => {
    const g = graph([
      ...STUDY_MODULES.filter((n) => !n.includes('down_blocks.2')).map((name) => ({ name })),
      { name: 'MultiHeadAttention_0', opType: 'MultiHeadAttention', domain: 'com.microsoft' },
      { name: 'GroupNorm_3', opType: 'GroupNorm', domain: 'com.microsoft' },
    ]);
    const r = checkAttention(g);
    expect(r.optimised).toBe(true);
    expect(r.fusedOps).toEqual({ MultiHeadAttention: 1, GroupNorm: 1 });
    expect(r.crossAttentionMaps.available).toBe(false);
    expect(r.crossAttentionMaps.reason).toMatch(/attention is fused \(1× MultiHeadAttention\).*unoptimised fp32 export/);
    const missing = r.studyTaps.filter((t) => !t.available);
    expect(missing.map((t) => t.alias)).toEqual(['D-L2-R0-B0-Cross-Q']);
    expect(missing[0].reason).toMatch(/folded into a fused op/);
  });

  it('recognises graphs whose node names carry no module paths', () => {
    const g = graph(Array.from({ length: 50 }, (_, i) => ({ name: `node_${i}` })));
    const r = checkAttention(g);
    expect(r.crossAttentionMaps.reason).toMatch(/carry no module paths/);
    expect(r.studyTaps.every((t) => !t.available && /no module-scoped node names/.test(t.reason!))).toBe(true);
  });
});

describe('placement', () => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'tl-place-'));
  afterAll(() => fs.rmSync(root, { recursive: true, force: true }));
  const exdev = () => {
    throw Object.assign(new Error('cross-device link'), { code: 'EXDEV' });
  };

  it('hard-links by default and keeps an existing link', () => {
    const src = path.join(root, 'weights.pb');
    fs.writeFileSync(src, 'w');
    const p = new PackPlacer(path.join(root, 'pack'));
    expect(p.file(src, 'sd/unet/weights.pb').how).toBe('hardlink');
    expect(p.file(src, 'sd/unet/weights.pb').how).toBe('kept');
    expect(fs.statSync(path.join(root, 'pack/sd/unet/weights.pb')).ino).toBe(fs.statSync(src).ino);
    expect(() => p.file(src, '../outside')).toThrow(/leave the pack folder/);
  });

  it('copies small files across file systems and refuses big ones without --copy', () => {
    const small = path.join(root, 'config.json');
    fs.writeFileSync(small, '{}');
    const big = path.join(root, 'big.onnx_data');
    fs.writeFileSync(big, '');
    fs.truncateSync(big, COPY_FALLBACK_BYTES + 1);
    const p = new PackPlacer(path.join(root, 'pack2'), { link: exdev });
    expect(p.file(small, 'a/config.json').how).toBe('copy');
    expect(() => p.file(big, 'a/big.onnx_data')).toThrow(/different file systems.*MB/);
    expect(new PackPlacer(path.join(root, 'pack3'), { mode: 'copy' }).file(small, 'c.json').how).toBe('copy');
  });
});
