/**
 * Graph surgery on the Python-exported fixture UNet (test/fixtures/packs/tiny):
 * the six study taps and the cross-attention pattern resolve on a real
 * torch.onnx export, and edited copies reproduce the golden values computed
 * in PyTorch when the fixture was built. Skipped when the fixture is absent.
 */
import { copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { editGraph } from '../../../src/engine/graph/graph-edit.js';
import { type GraphIndex, readGraphIndex } from '../../../src/engine/graph/onnx-index.js';
import { STUDY_TAPS, listGraphTaps } from '../../../src/engine/graph/tap-alias.js';
import { findTensors, resolveTap } from '../../../src/engine/graph/tap-resolve.js';

const PACK = join(import.meta.dirname, '../../fixtures/packs/tiny');
const UNET = join(PACK, 'unet');
const GOLDEN = join(PACK, 'golden');
const present = ['model.onnx', 'weights.pb'].every((f) => existsSync(join(UNET, f))) && existsSync(join(GOLDEN, 'golden.json'));
if (!present) console.warn(`[graph] skipping tiny-pack tests: ${UNET}/model.onnx, weights.pb or golden/golden.json not found (build the fixture pack first)`);

/** Minimal .npy (v1/v2, little-endian float32, C order) reader for the golden files. */
function readNpy(file: string): { data: Float32Array; shape: number[] } {
  const buf = readFileSync(join(GOLDEN, file));
  const major = buf[6];
  const headerLen = major === 1 ? buf.readUInt16LE(8) : buf.readUInt32LE(8);
  const start = (major === 1 ? 10 : 12) + headerLen;
  const header = buf.subarray(major === 1 ? 10 : 12, start).toString('latin1');
  if (!header.includes("'<f4'") || header.includes("'fortran_order': True")) throw new Error(`${file}: only C-order float32 is supported`);
  const shape = (/'shape': \(([^)]*)\)/.exec(header)?.[1] ?? '').split(',').map((s) => s.trim()).filter(Boolean).map(Number);
  const data = new Float32Array(buf.buffer.slice(buf.byteOffset + start, buf.byteOffset + buf.length));
  return { data, shape };
}

function expectClose(actual: ArrayLike<number>, expected: ArrayLike<number>, atol: number, rtol: number): void {
  expect(actual.length).toBe(expected.length);
  let worst = 0;
  for (let i = 0; i < expected.length; i++) {
    const excess = Math.abs(actual[i] - expected[i]) - (atol + rtol * Math.abs(expected[i]));
    worst = Math.max(worst, excess);
  }
  expect(worst).toBeLessThanOrEqual(0);
}

/** f_u + s·(f_c − f_u) over the two batch rows of a [2, ...] tensor. */
function guided(t: Float32Array, s: number): Float32Array {
  const n = t.length / 2;
  return Float32Array.from({ length: n }, (_, i) => t[i] + s * (t[n + i] - t[i]));
}

/** [C, H·W] (one NCHW batch row) → [H·W, C]. */
function channelsLast(t: Float32Array, channels: number): Float32Array {
  const hw = t.length / channels;
  return Float32Array.from({ length: t.length }, (_, i) => t[(i % channels) * hw + Math.floor(i / channels)]);
}

describe.skipIf(!present)('tiny fixture pack UNet', () => {
  let index: GraphIndex;
  let golden: { taps: Record<string, { onnx_tensor: string }>; cross_attention: { layer: string; heads: number }; guidance: number; t: number };
  const work = mkdtempSync(join(tmpdir(), 'twinlens-tiny-'));
  afterAll(() => rmSync(work, { recursive: true, force: true }));

  beforeAll(async () => {
    index = await readGraphIndex(join(UNET, 'model.onnx'));
    golden = JSON.parse(readFileSync(join(GOLDEN, 'golden.json'), 'utf8'));
    // Edit a copy so the committed fixture folder gets no edited graphs.
    copyFileSync(join(UNET, 'model.onnx'), join(work, 'model.onnx'));
    copyFileSync(join(UNET, 'weights.pb'), join(work, 'weights.pb'));
  });

  it('indexes the export: inputs, external weights, thousands of nodes', () => {
    expect(index.inputs.map((i) => i.name)).toEqual(['sample', 'timestep', 'encoder_hidden_states']);
    expect(index.outputs.map((o) => o.name)).toEqual(['out_sample']);
    expect(index.usesExternalData).toBe(true);
    expect(index.externalDataFiles).toEqual(['weights.pb']);
    expect(index.nodes.length).toBeGreaterThan(1000);
  });

  it('resolves all six study taps, matching the tensors the fixture builder recorded', () => {
    for (const alias of STUDY_TAPS) {
      const r = resolveTap(index, alias);
      const scope = `/${r.modulePath.replace(/\.(?!\d)/g, '/')}/`;
      expect(r.tensorName.startsWith(scope), `${alias} → ${r.tensorName}`).toBe(true);
      if (golden.taps[alias]) expect(r.tensorName).toBe(golden.taps[alias].onnx_tensor);
    }
    const listed = listGraphTaps(index).filter((t) => t.study).map((t) => t.alias);
    expect(listed.sort()).toEqual([...STUDY_TAPS].sort());
  });

  it('finds one cross-attention Softmax per attn2 module with the pack pattern', () => {
    const pack = JSON.parse(readFileSync(join(PACK, 'pack.json'), 'utf8'));
    const found = findTensors(index, pack.diffusion.crossAttention.pattern);
    const crossModules = listGraphTaps(index).filter((t) => t.kind === 'cross-q').map((t) => t.modulePath.replace(/\.to_q$/, ''));
    expect(found.map((f) => f.modulePath)).toEqual(crossModules);
    expect(found.every((f) => f.opType === 'Softmax')).toBe(true);
    expect(found.map((f) => f.modulePath)).toContain(`${golden.cross_attention.layer}.transformer_blocks.0.attn2`);
  });

  it('runs edited copies in onnxruntime-node and reproduces the golden taps', async (ctx) => {
    const needed = ['noisy_latent.npy', 'text_hidden.npy', 'out_sample.npy', 'tap_U-L1-R1-B0-Cross-Q.npy', 'tap_U-L1-R1-B0-Cross-Q_cond.npy',
      'tap_U-L1-R1-B0-Cross-Q_uncond.npy', 'tap_D-L2-R0-B0-Cross-Q.npy', 'tap_U-L2-R2-Res-Out.npy', `xattn_${golden.cross_attention.layer}.npy`];
    const missing = needed.filter((f) => !existsSync(join(GOLDEN, f)));
    if (missing.length > 0) ctx.skip(`golden files missing in ${GOLDEN}: ${missing.join(', ')}`);
    const taps = Object.fromEntries(STUDY_TAPS.map((a) => [a, resolveTap(index, a).tensorName]));
    const xattn = findTensors(index, `^/${golden.cross_attention.layer.replace(/\./g, '/').replace(/\/(\d+)/g, '.$1')}/.*attn2/Softmax_output_0$`)[0].tensorName;
    const edited = await editGraph(join(work, 'model.onnx'), { addOutputs: [...Object.values(taps), xattn] });
    const pruned = await editGraph(join(work, 'model.onnx'), { addOutputs: [taps['D-L2-R0-B0-Cross-Q']], prune: true });
    expect(pruned.nodeCount).toBeLessThan(index.nodes.length / 2);

    const latent = readNpy('noisy_latent.npy');
    const text = readNpy('text_hidden.npy');
    const sample = new Float32Array(latent.data.length * 2);
    sample.set(latent.data, 0);
    sample.set(latent.data, latent.data.length);
    const feeds: Record<string, ort.Tensor> = {
      sample: new ort.Tensor('float32', sample, [2, ...latent.shape.slice(1)]),
      timestep: new ort.Tensor('int64', BigInt64Array.from([BigInt(golden.t)]), [1]),
      encoder_hidden_states: new ort.Tensor('float32', text.data, text.shape),
    };
    const runModel = async (path: string, inputs: string[]) => {
      const session = await ort.InferenceSession.create(path);
      try {
        const out = await session.run(Object.fromEntries(inputs.map((n) => [n, feeds[n]])));
        return Object.fromEntries(Object.entries(out).map(([k, v]) => [k, { data: v.data as Float32Array, dims: v.dims }]));
      } finally {
        await session.release();
      }
    };
    const out = await runModel(edited.path, edited.inputs);
    const s = golden.guidance;
    expectClose(out.out_sample.data, readNpy('out_sample.npy').data, 1e-4, 1e-3);
    const q = out[taps['U-L1-R1-B0-Cross-Q']].data;
    expectClose(q.subarray(0, q.length / 2), readNpy('tap_U-L1-R1-B0-Cross-Q_uncond.npy').data, 1e-4, 1e-3);
    expectClose(q.subarray(q.length / 2), readNpy('tap_U-L1-R1-B0-Cross-Q_cond.npy').data, 1e-4, 1e-3);
    expectClose(guided(q, s), readNpy('tap_U-L1-R1-B0-Cross-Q.npy').data, 1e-4, 1e-3);
    expectClose(guided(out[taps['D-L2-R0-B0-Cross-Q']].data, s), readNpy('tap_D-L2-R0-B0-Cross-Q.npy').data, 1e-4, 1e-3);
    const res = out[taps['U-L2-R2-Res-Out']];
    expectClose(channelsLast(guided(res.data, s), Number(res.dims[1])), readNpy('tap_U-L2-R2-Res-Out.npy').data, 1e-4, 1e-3);

    // Cross-attention map: cond batch row, mean over heads, [tokens, HW].
    const probs = out[xattn];
    const [bh, hw, tokens] = probs.dims.map(Number);
    const heads = golden.cross_attention.heads;
    expect(bh).toBe(2 * heads);
    const map = new Float32Array(tokens * hw);
    for (let h = 0; h < heads; h++) for (let p = 0; p < hw; p++) for (let k = 0; k < tokens; k++) {
      map[k * hw + p] += probs.data[((heads + h) * hw + p) * tokens + k] / heads;
    }
    expectClose(map, readNpy(`xattn_${golden.cross_attention.layer}.npy`).data, 1e-5, 1e-4);

    const early = await runModel(pruned.path, pruned.inputs);
    expect(Object.keys(early)).toEqual([taps['D-L2-R0-B0-Cross-Q']]);
    expectClose(early[taps['D-L2-R0-B0-Cross-Q']].data, out[taps['D-L2-R0-B0-Cross-Q']].data, 1e-6, 1e-6);
  });
});
