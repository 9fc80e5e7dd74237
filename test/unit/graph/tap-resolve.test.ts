/**
 * Tap resolution: aliases, module paths, node names and exact tensor names →
 * tensor names; manifest overrides; regex selection of cross-attention maps;
 * TAP_NOT_FOUND with the nearest candidates, fast on ~10k-node graphs.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TwinLensError } from '../../../src/shared/errors.js';
import { type GraphIndex, readGraphIndex } from '../../../src/engine/graph/onnx-index.js';
import { STUDY_TAPS } from '../../../src/engine/graph/tap-alias.js';
import { findTensors, resolveTap, tapCandidates } from '../../../src/engine/graph/tap-resolve.js';
import { writeTinyUnet } from './tiny-unet.js';

const dir = mkdtempSync(join(tmpdir(), 'twinlens-resolve-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

let index: GraphIndex;
beforeAll(async () => {
  index = await readGraphIndex(writeTinyUnet(join(dir, 'plain')).path);
});

function tapError(fn: () => unknown): TwinLensError {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(TwinLensError);
    return e as TwinLensError;
  }
  throw new Error('expected a TwinLensError');
}

const EXPECTED: Record<(typeof STUDY_TAPS)[number], string> = {
  'U-L1-R1-B0-Cross-Q': '/up_blocks.1/attentions.1/transformer_blocks.0/attn2/to_q/MatMul_output_0',
  'D-L2-R0-B0-Cross-Q': '/down_blocks.2/attentions.0/transformer_blocks.0/attn2/to_q/MatMul_output_0',
  'U-L1-R1-B0-Out': '/up_blocks.1/attentions.1/transformer_blocks.0/Add_1_output_0',
  'U-L1-R2-B0-Cross-Q': '/up_blocks.1/attentions.2/transformer_blocks.0/attn2/to_q/MatMul_output_0',
  'U-L2-R1-B0-Cross-Q': '/up_blocks.2/attentions.1/transformer_blocks.0/attn2/to_q/MatMul_output_0',
  'U-L2-R2-Res-Out': '/up_blocks.2/resnets.2/Add_1_output_0',
};

describe('resolveTap', () => {
  it('resolves the six study aliases to the last node of their module', () => {
    for (const alias of STUDY_TAPS) {
      const r = resolveTap(index, alias);
      expect(r.tensorName, alias).toBe(EXPECTED[alias]);
      expect(r.source).toBe('alias');
      expect(r.alias).toBe(alias);
    }
    const out = resolveTap(index, 'M-R0-B0-Cross-Out');
    expect(out.tensorName).toBe('/mid_block/attentions.0/transformer_blocks.0/attn2/to_out.0/Add_output_0');
    expect(out).toMatchObject({ opType: 'Add', modulePath: 'mid_block.attentions.0.transformer_blocks.0.attn2.to_out.0' });
    // The attention module ends with its residual Add, after the Constant used by Reshape_1.
    expect(resolveTap(index, 'U-L1-R1-Attn-Out').tensorName).toBe('/up_blocks.1/attentions.1/Add_output_0');
    expect(['M-R1-Res-Out', 'D-L2-R0-B0-Self-K'].map((r) => resolveTap(index, r).tensorName)).toEqual([
      '/mid_block/resnets.1/Add_1_output_0',
      '/down_blocks.2/attentions.0/transformer_blocks.0/attn1/to_k/MatMul_output_0',
    ]);
  });

  it('resolves module paths (dotted or slashed), node names and exact tensor names', () => {
    const q = EXPECTED['U-L1-R1-B0-Cross-Q'];
    expect(resolveTap(index, 'up_blocks.1.attentions.1.transformer_blocks.0.attn2.to_q')).toMatchObject({ tensorName: q, source: 'module' });
    expect(resolveTap(index, '/up_blocks.1/attentions.1/transformer_blocks.0/attn2/to_q/')).toMatchObject({ tensorName: q, source: 'module' });
    expect(resolveTap(index, 'up_blocks.2.resnets.2').tensorName).toBe(EXPECTED['U-L2-R2-Res-Out']);
    expect(resolveTap(index, '/up_blocks.1/attentions.1/transformer_blocks.0/attn2/Softmax')).toMatchObject({
      tensorName: '/up_blocks.1/attentions.1/transformer_blocks.0/attn2/Softmax_output_0',
      source: 'node',
    });
    expect(resolveTap(index, '/time_proj/Mul_output_0')).toMatchObject({
      tensorName: '/time_proj/Mul_output_0',
      source: 'tensor',
      opType: 'Mul',
      modulePath: 'time_proj',
    });
    expect(resolveTap(index, 'out_sample')).toMatchObject({ tensorName: 'out_sample', source: 'tensor', modulePath: 'conv_out' });
  });

  it('accepts graphs with a /unet wrapper or without the leading slash', async () => {
    const wrapped = await readGraphIndex(writeTinyUnet(join(dir, 'unet'), { prefix: '/unet/' }).path);
    const bare = await readGraphIndex(writeTinyUnet(join(dir, 'bare'), { prefix: '' }).path);
    for (const alias of STUDY_TAPS) {
      expect(resolveTap(wrapped, alias).tensorName).toBe(`/unet${EXPECTED[alias]}`);
      expect(resolveTap(bare, alias).tensorName).toBe(EXPECTED[alias].slice(1));
    }
    expect(resolveTap(wrapped, '/unet/up_blocks.2/resnets.2').tensorName).toBe(`/unet${EXPECTED['U-L2-R2-Res-Out']}`);
    expect(resolveTap(wrapped, 'U-L1-R1-B0-Cross-Q').modulePath).toBe('up_blocks.1.attentions.1.transformer_blocks.0.attn2.to_q');
  });

  it('lets the pack taps map override the preset with a module path, tensor name or alias', () => {
    const overrides = {
      'U-L1-R1-B0-Cross-Q': 'up_blocks.1.attentions.2.transformer_blocks.0.attn2.to_k',
      'U-L2-R2-Res-Out': '/mid_block/resnets.0/Add_output_0',
      'my-favourite': 'D-L2-R0-B0-Cross-Q',
    };
    expect(resolveTap(index, 'U-L1-R1-B0-Cross-Q', { overrides })).toMatchObject({
      tensorName: '/up_blocks.1/attentions.2/transformer_blocks.0/attn2/to_k/MatMul_output_0',
      source: 'override',
      alias: 'U-L1-R1-B0-Cross-Q',
    });
    // Overrides are found through the canonical alias spelling too.
    expect(resolveTap(index, 'u-l1-r1-b0-cross-q', { overrides }).source).toBe('override');
    expect(resolveTap(index, 'U-L2-R2-Res-Out', { overrides }).tensorName).toBe('/mid_block/resnets.0/Add_output_0');
    expect(resolveTap(index, 'my-favourite', { overrides }).tensorName).toBe(EXPECTED['D-L2-R0-B0-Cross-Q']);
    // Aliases not in the map still use the preset.
    expect(resolveTap(index, 'U-L1-R1-B0-Out', { overrides }).tensorName).toBe(EXPECTED['U-L1-R1-B0-Out']);
  });

  it('prefers an exact tensor name over an override of the same name', () => {
    const name = '/time_proj/Mul_output_0';
    const r = resolveTap(index, name, { overrides: { [name]: 'up_blocks.2.resnets.2' } });
    expect(r).toMatchObject({ tensorName: name, source: 'tensor' });
  });

  it('reports a bad override target as TAP_NOT_FOUND naming the taps map', () => {
    const err = tapError(() => resolveTap(index, 'U-L1-R1-B0-Out', { overrides: { 'U-L1-R1-B0-Out': 'up_blocks.9.attentions.0' } }));
    expect(err.code).toBe('TAP_NOT_FOUND');
    expect(err.message).toMatch(/taps map sends "U-L1-R1-B0-Out" to "up_blocks.9.attentions.0"/);
  });
});

describe('TAP_NOT_FOUND', () => {
  it('lists the five nearest candidates and how to list taps', () => {
    const err = tapError(() => resolveTap(index, 'U-L1-R1-B0-Cros-Q'));
    expect(err.code).toBe('TAP_NOT_FOUND');
    expect(err.message).toMatch(/^Tap "U-L1-R1-B0-Cros-Q" was not found in model\.onnx: /);
    const near = /Nearest: (.*)\.$/.exec(err.message)?.[1].split(', ');
    expect(near).toHaveLength(5);
    expect(near?.[0]).toBe('U-L1-R1-B0-Cross-Q');
    expect(err.hint).toMatch(/twinlens features --list-taps/);
    expect(err.hint).toMatch(/taps map/);
  });

  it('explains an alias whose module is absent and suggests ones that exist', () => {
    const err = tapError(() => resolveTap(index, 'U-L3-R1-B0-Cross-Q'));
    expect(err.message).toMatch(
      /alias U-L3-R1-B0-Cross-Q means module up_blocks\.3\.attentions\.1\.transformer_blocks\.0\.attn2\.to_q, which has no nodes in this graph/,
    );
    expect(err.message).toMatch(/Nearest: .*U-L\d-R1-B0-Cross-Q/);
  });

  it('suggests tensor names for a mistyped tensor name', () => {
    const err = tapError(() => resolveTap(index, '/up_blocks.1/attentions.1/transformer_blocks.0/attn2/to_q/MatMul_output_1'));
    expect(err.message).toContain('Nearest: /up_blocks.1/attentions.1/transformer_blocks.0/attn2/to_q/MatMul_output_0');
    expect(() => resolveTap(index, '  ')).toThrow(/empty tap name/);
  });

  it('stays cheap on a graph with 10k nodes', () => {
    const nodes = [];
    for (let b = 0; b < 10_000; b++) {
      const name = `/up_blocks.${b % 4}/attentions.${b % 3}/transformer_blocks.${b % 10}/attn${(b % 2) + 1}/op${b}/MatMul`;
      nodes.push({ name, opType: 'MatMul', domain: '', inputs: [`t${b}`], outputs: [`${name}_output_0`] });
    }
    const big: GraphIndex = { ...index, nodes };
    const t0 = performance.now();
    const near = tapCandidates(big, '/up_blocks.1/attentions.1/transformer_blocks.1/attn2/op9x/MatMul_output_0', 5);
    const err = tapError(() => resolveTap(big, 'U-L1-R1-B7-Cross-Qq'));
    const ms = performance.now() - t0;
    expect(near).toHaveLength(5);
    expect(err.code).toBe('TAP_NOT_FOUND');
    expect(ms).toBeLessThan(2500);
  });
});

describe('findTensors', () => {
  it('returns every cross-attention Softmax in node order with its module path', () => {
    const found = findTensors(index, 'attn2/Softmax_output_0$');
    expect(found.map((f) => f.modulePath)).toEqual([
      'down_blocks.2.attentions.0.transformer_blocks.0.attn2',
      'mid_block.attentions.0.transformer_blocks.0.attn2',
      'up_blocks.1.attentions.1.transformer_blocks.0.attn2',
      'up_blocks.1.attentions.2.transformer_blocks.0.attn2',
      'up_blocks.2.attentions.1.transformer_blocks.0.attn2',
    ]);
    expect(found[0]).toMatchObject({ tensorName: '/down_blocks.2/attentions.0/transformer_blocks.0/attn2/Softmax_output_0', opType: 'Softmax' });
    const order = found.map((f) => f.nodeIndex);
    expect([...order].sort((a, b) => a - b)).toEqual(order);
    // A global RegExp does not skip matches through lastIndex.
    expect(findTensors(index, /Softmax_output_0$/g)).toHaveLength(10);
    expect(() => findTensors(index, '(')).toThrow(TwinLensError);
  });
});
