/**
 * Graph surgery on the Python-exported fixture UNets (test/fixtures/packs/tiny,
 * fp32 with weights.pb, and tiny-fp16, float16 I/O with model.onnx_data): the
 * six study taps and the cross-attention pattern resolve on real torch.onnx
 * exports, and edited copies reproduce the golden values computed in PyTorch
 * when the fixtures were built (guided values f_u + s·(f_c − f_u) get the
 * per-row tolerance scaled by 1 + 2s). Each pack is skipped, with a message,
 * when its files are absent.
 */
import { copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { Float16Array } from '@petamoriken/float16';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { editGraph } from '../../../src/engine/graph/graph-edit.js';
import { type GraphIndex, readGraphIndex } from '../../../src/engine/graph/onnx-index.js';
import { STUDY_TAPS, listGraphTaps } from '../../../src/engine/graph/tap-alias.js';
import { findTensors, resolveTap } from '../../../src/engine/graph/tap-resolve.js';

const PACKS = join(import.meta.dirname, '../../fixtures/packs');

/** A fixture pack's UNet folder and goldens, and whether they are there. */
function fixture(name: string) {
  const pack = join(PACKS, name);
  const unet = join(pack, 'unet');
  const golden = join(pack, 'golden');
  const present = existsSync(join(unet, 'model.onnx')) && existsSync(join(golden, 'golden.json'));
  if (!present) console.warn(`[graph] skipping ${name} fixture tests: ${unet}/model.onnx or ${golden}/golden.json not found (build the fixture packs first)`);
  return { name, pack, unet, golden, present };
}

/** Minimal .npy (v1/v2, little-endian float32, C order) reader for the golden files. */
function readNpy(path: string): { data: Float32Array; shape: number[] } {
  const buf = readFileSync(path);
  const major = buf[6];
  const headerLen = major === 1 ? buf.readUInt16LE(8) : buf.readUInt32LE(8);
  const start = (major === 1 ? 10 : 12) + headerLen;
  const header = buf.subarray(major === 1 ? 10 : 12, start).toString('latin1');
  if (!header.includes("'<f4'") || header.includes("'fortran_order': True")) throw new Error(`${path}: only C-order float32 is supported`);
  const shape = (/'shape': \(([^)]*)\)/.exec(header)?.[1] ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)
    .map(Number);
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

for (const fx of [fixture('tiny'), fixture('tiny-fp16')]) {
  describe.skipIf(!fx.present)(`${fx.name} fixture pack UNet`, () => {
    let index: GraphIndex;
    let golden: Golden;
    const work = mkdtempSync(join(tmpdir(), `twinlens-${fx.name}-`));
    afterAll(() => rmSync(work, { recursive: true, force: true }));

    beforeAll(async () => {
      index = await readGraphIndex(join(fx.unet, 'model.onnx'));
      golden = JSON.parse(readFileSync(join(fx.golden, 'golden.json'), 'utf8'));
      // Edit a copy (with its external data) so the committed fixture folder gets no edited graphs.
      for (const f of ['model.onnx', ...index.externalDataFiles]) copyFileSync(join(fx.unet, f), join(work, f));
    });

    it('indexes the export: inputs, external weights, thousands of nodes', () => {
      expect(index.inputs.map((i) => i.name)).toEqual(['sample', 'timestep', 'encoder_hidden_states']);
      expect(index.outputs.map((o) => o.name)).toEqual(['out_sample']);
      expect(index.usesExternalData).toBe(true);
      expect(index.externalDataFiles).toHaveLength(1);
      expect(index.nodes.length).toBeGreaterThan(1000);
    });

    it('resolves all six study taps, matching the tensors the fixture builder recorded', () => {
      for (const alias of STUDY_TAPS) {
        const r = resolveTap(index, alias);
        const scope = `/${r.modulePath.replace(/\.(?!\d)/g, '/')}/`;
        expect(r.tensorName.startsWith(scope), `${alias} → ${r.tensorName}`).toBe(true);
        if (golden.taps?.[alias]?.onnx_tensor) expect(r.tensorName).toBe(golden.taps[alias].onnx_tensor);
      }
      const listed = listGraphTaps(index)
        .filter((t) => t.study)
        .map((t) => t.alias);
      expect(listed.sort()).toEqual([...STUDY_TAPS].sort());
    });

    it('finds one cross-attention Softmax per attn2 module with the pack pattern', () => {
      const pack = JSON.parse(readFileSync(join(fx.pack, 'pack.json'), 'utf8'));
      const found = findTensors(index, pack.diffusion.crossAttention?.pattern ?? 'attn2/Softmax_output_0$');
      const crossModules = listGraphTaps(index)
        .filter((t) => t.kind === 'cross-q')
        .map((t) => t.modulePath.replace(/\.to_q$/, ''));
      expect(found.map((f) => f.modulePath)).toEqual(crossModules);
      expect(found.every((f) => f.opType === 'Softmax')).toBe(true);
      if (golden.cross_attention?.onnx_tensor) expect(found.map((f) => f.tensorName)).toContain(golden.cross_attention.onnx_tensor);
    });

    it('runs edited copies in onnxruntime-node and reproduces the golden taps', async (ctx) => {
      const xattnFile = golden.cross_attention ? `xattn_${golden.cross_attention.layer}.npy` : undefined;
      const needed = [
        'noisy_latent.npy',
        'text_hidden.npy',
        'out_sample.npy',
        'tap_U-L1-R1-B0-Cross-Q.npy',
        'tap_U-L1-R1-B0-Cross-Q_cond.npy',
        'tap_U-L1-R1-B0-Cross-Q_uncond.npy',
        'tap_D-L2-R0-B0-Cross-Q.npy',
        'tap_U-L2-R2-Res-Out.npy',
        ...(xattnFile ? [xattnFile] : []),
      ];
      const missing = needed.filter((f) => !existsSync(join(fx.golden, f)));
      if (missing.length > 0) ctx.skip(`golden files missing in ${fx.golden}: ${missing.join(', ')}`);
      const npy = (f: string) => readNpy(join(fx.golden, f));
      const tol = { taps: golden.tolerances?.taps ?? { atol: 1e-4, rtol: 1e-3 }, out: golden.tolerances?.out_sample ?? { atol: 1e-4, rtol: 1e-3 } };

      const taps = Object.fromEntries(STUDY_TAPS.map((a) => [a, resolveTap(index, a).tensorName]));
      const xattn = golden.cross_attention?.onnx_tensor;
      const edited = await editGraph(join(work, 'model.onnx'), { addOutputs: [...Object.values(taps), ...(xattn ? [xattn] : [])] });
      const pruned = await editGraph(join(work, 'model.onnx'), { addOutputs: [taps['D-L2-R0-B0-Cross-Q']], prune: true });
      expect(pruned.nodeCount).toBeLessThan(index.nodes.length / 2);

      const latent = npy('noisy_latent.npy');
      const text = npy('text_hidden.npy');
      const sample = new Float32Array(latent.data.length * 2);
      sample.set(latent.data, 0);
      sample.set(latent.data, latent.data.length);
      const values: Record<string, { data: Float32Array | number[]; dims: number[] }> = {
        sample: { data: sample, dims: [2, ...latent.shape.slice(1)] },
        timestep: { data: [golden.t], dims: [1] },
        encoder_hidden_states: { data: text.data, dims: text.shape },
      };
      const feeds = Object.fromEntries(index.inputs.map((i) => [i.name, toTensor(i.elementType ?? 'float32', values[i.name].data, values[i.name].dims)]));
      const runModel = async (path: string, inputs: string[]) => {
        const session = await ort.InferenceSession.create(path);
        try {
          const out = await session.run(Object.fromEntries(inputs.map((n) => [n, feeds[n]])));
          return Object.fromEntries(Object.entries(out).map(([k, v]) => [k, { data: toFloat32(v), dims: v.dims.map(Number) }]));
        } finally {
          await session.release();
        }
      };
      const out = await runModel(edited.path, edited.inputs);
      const s = golden.guidance;
      expectClose(out.out_sample.data, npy('out_sample.npy').data, tol.out.atol, tol.out.rtol);
      const q = out[taps['U-L1-R1-B0-Cross-Q']].data;
      expectClose(q.subarray(0, q.length / 2), npy('tap_U-L1-R1-B0-Cross-Q_uncond.npy').data, tol.taps.atol, tol.taps.rtol);
      expectClose(q.subarray(q.length / 2), npy('tap_U-L1-R1-B0-Cross-Q_cond.npy').data, tol.taps.atol, tol.taps.rtol);
      expectClose(guided(q, s), npy('tap_U-L1-R1-B0-Cross-Q.npy').data, tol.taps.atol * (1 + 2 * s), tol.taps.rtol);
      expectClose(guided(out[taps['D-L2-R0-B0-Cross-Q']].data, s), npy('tap_D-L2-R0-B0-Cross-Q.npy').data, tol.taps.atol * (1 + 2 * s), tol.taps.rtol);
      const res = out[taps['U-L2-R2-Res-Out']];
      expectClose(channelsLast(guided(res.data, s), res.dims[1]), npy('tap_U-L2-R2-Res-Out.npy').data, tol.taps.atol * (1 + 2 * s), tol.taps.rtol);

      if (xattn && xattnFile && golden.cross_attention) {
        // Cross-attention map: cond batch row, mean over heads, [tokens, HW].
        const probs = out[xattn];
        const [bh, hw, tokens] = probs.dims;
        const heads = golden.cross_attention.heads;
        expect(bh).toBe(2 * heads);
        const map = new Float32Array(tokens * hw);
        for (let h = 0; h < heads; h++)
          for (let p = 0; p < hw; p++)
            for (let k = 0; k < tokens; k++) {
              map[k * hw + p] += probs.data[((heads + h) * hw + p) * tokens + k] / heads;
            }
        const xt = golden.tolerances?.cross_attention ?? { atol: 1e-5, rtol: 1e-4 };
        expectClose(map, npy(xattnFile).data, xt.atol, xt.rtol);
      }

      const early = await runModel(pruned.path, pruned.inputs);
      expect(Object.keys(early)).toEqual([taps['D-L2-R0-B0-Cross-Q']]);
      expectClose(early[taps['D-L2-R0-B0-Cross-Q']].data, out[taps['D-L2-R0-B0-Cross-Q']].data, 1e-6, 1e-6);
    });
  });
}

interface Golden {
  t: number;
  guidance: number;
  taps?: Record<string, { onnx_tensor?: string }>;
  cross_attention?: { layer: string; heads: number; onnx_tensor?: string };
  tolerances?: Record<string, { atol: number; rtol: number }>;
}

/** A feed of the graph's element type (float32, float16 or int64) from plain numbers. */
function toTensor(type: string, data: ArrayLike<number>, dims: number[]): ort.Tensor {
  if (type === 'int64') return new ort.Tensor('int64', BigInt64Array.from(Array.from(data, (v) => BigInt(Math.round(v)))), dims);
  if (type === 'float16') return new ort.Tensor('float16', new Uint16Array(new Float16Array(Array.from(data)).buffer), dims);
  return new ort.Tensor('float32', Float32Array.from(data), dims);
}

function toFloat32(t: ort.Tensor): Float32Array {
  if (t.type === 'float16') return Float32Array.from(new Float16Array((t.data as Uint16Array).buffer, (t.data as Uint16Array).byteOffset, t.size));
  return t.data as Float32Array;
}
