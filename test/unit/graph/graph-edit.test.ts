/**
 * editGraph end to end: the edited models are loaded and run in the real
 * onnxruntime-node to check tap values, pruning, external data, caching,
 * losslessness and the read-only fallbacks.
 */
import { chmodSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TwinLensError } from '../../../src/shared/errors.js';
import { cleanEditedGraphs, type EditCacheIo, writeAtomic } from '../../../src/engine/graph/edit-cache.js';
import { editGraph } from '../../../src/engine/graph/graph-edit.js';
import { type GraphIndex, readGraphIndex } from '../../../src/engine/graph/onnx-index.js';
import { encodeLenField } from '../../../src/engine/graph/proto-fields.js';
import { resolveTap } from '../../../src/engine/graph/tap-resolve.js';
import { type TinyUnet, buildTinyUnet, onnx, tinyFeeds, writeTinyUnet } from './tiny-unet.js';

const root = mkdtempSync(join(tmpdir(), 'twinlens-edit-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

type Outputs = Record<string, Float32Array>;

/** Runs a model, feeding only the inputs its graph declares. */
async function run(path: string): Promise<Outputs> {
  const session = await ort.InferenceSession.create(path);
  try {
    const f = tinyFeeds();
    const all: Record<string, ort.Tensor> = {
      sample: new ort.Tensor('float32', f.sample, [1, 4, 2, 2]),
      timestep: new ort.Tensor('int64', f.timestep, [1]),
      encoder_hidden_states: new ort.Tensor('float32', f.ehs, [1, 3, 4]),
    };
    const feeds = Object.fromEntries(session.inputNames.map((n) => [n, all[n]]));
    const result = await session.run(feeds);
    return Object.fromEntries(Object.entries(result).map(([k, v]) => [k, v.data as Float32Array]));
  } finally {
    await session.release();
  }
}

/** The TwinLensError a promise rejects with (fails the test when it resolves). */
async function failure(p: Promise<unknown>): Promise<TwinLensError> {
  const e = await p.then(
    () => undefined,
    (err: unknown) => err,
  );
  expect(e).toBeInstanceOf(TwinLensError);
  return e as TwinLensError;
}

function close(a: ArrayLike<number>, b: ArrayLike<number>, tol = 1e-5): void {
  expect(a.length).toBe(b.length);
  for (let i = 0; i < a.length; i++) expect(Math.abs(a[i] - b[i])).toBeLessThan(tol);
}

let inlinePath: string;
let model: TinyUnet;
let index: GraphIndex;
let tap: Record<'res' | 'q' | 't1' | 'upQ' | 'upOut', string>;

beforeAll(async () => {
  ({ path: inlinePath, model } = writeTinyUnet(join(root, 'inline')));
  index = await readGraphIndex(inlinePath);
  tap = {
    res: resolveTap(index, 'D-L2-R0-Res-Out').tensorName,
    q: resolveTap(index, 'D-L2-R0-B0-Cross-Q').tensorName,
    t1: '/down_blocks.2/attentions.0/transformer_blocks.0/Add_output_0',
    upQ: resolveTap(index, 'U-L1-R1-B0-Cross-Q').tensorName,
    upOut: resolveTap(index, 'U-L1-R1-B0-Out').tensorName,
  };
});

describe('editGraph: add outputs', () => {
  it('exposes taps with correct values and leaves every original byte in place', async () => {
    const edited = await editGraph(inlinePath, { addOutputs: [tap.q, tap.res, tap.t1, tap.q] });
    expect(dirname(edited.path)).toBe(dirname(inlinePath));
    expect(basename(edited.path)).toMatch(/^model\.twinlens-[0-9a-f]{16}\.onnx$/);
    expect(edited).toMatchObject({ outputs: ['out_sample', tap.q, tap.res, tap.t1], edited: true, reused: false, removedNodes: 0 });
    expect(edited.inputs).toEqual(['sample', 'timestep', 'encoder_hidden_states']);
    const bytes = readFileSync(edited.path);
    expect(bytes.subarray(0, model.bytes.length).equals(Buffer.from(model.bytes))).toBe(true);

    const [orig, out] = await Promise.all([run(inlinePath), run(edited.path)]);
    expect(Object.keys(out).sort()).toEqual(['out_sample', tap.q, tap.res, tap.t1].sort());
    expect(out.out_sample).toEqual(orig.out_sample);

    // Reference maths: resnet = conv1x1(sample) + timestep·scale + sample; q = t1 · W_q.
    const { sample } = tinyFeeds();
    const w = model.floats.get('down_blocks.2.resnets.0.conv1.weight') as Float32Array;
    const b = model.floats.get('down_blocks.2.resnets.0.conv1.bias') as Float32Array;
    const temb = 50 * (model.floats.get('time_proj.scale') as Float32Array)[0];
    const res = new Float32Array(16);
    for (let o = 0; o < 4; o++)
      for (let p = 0; p < 4; p++) {
        let acc = b[o];
        for (let i = 0; i < 4; i++) acc += w[o * 4 + i] * sample[i * 4 + p];
        res[o * 4 + p] = acc + temb + sample[o * 4 + p];
      }
    close(out[tap.res], res);
    const wq = model.floats.get('down_blocks.2.attentions.0.transformer_blocks.0.attn2.to_q.weight') as Float32Array;
    const t1 = out[tap.t1];
    const q = new Float32Array(16);
    for (let t = 0; t < 4; t++) for (let j = 0; j < 4; j++) for (let c = 0; c < 4; c++) q[t * 4 + j] += t1[t * 4 + c] * wq[c * 4 + j];
    close(out[tap.q], q);
  });

  it('returns the original model when every request is already an output', async () => {
    const r = await editGraph(inlinePath, { addOutputs: ['out_sample'] });
    expect(r).toMatchObject({ path: inlinePath, edited: false, outputs: ['out_sample'] });
  });
});

describe('editGraph: prune', () => {
  it('keeps only what a tap needs, drops unused inputs and weights, and computes the same values', async () => {
    const full = await run((await editGraph(inlinePath, { addOutputs: [tap.res, tap.upQ] })).path);
    const early = await editGraph(inlinePath, { addOutputs: [tap.res], prune: true });
    expect(early).toMatchObject({ outputs: [tap.res], inputs: ['sample', 'timestep'], nodeCount: 5, removedNodes: model.nodeCount - 5 });
    const idx = await readGraphIndex(early.path);
    expect(idx.nodes.map((n) => n.name)).toEqual([
      '/time_proj/Cast',
      '/time_proj/Mul',
      '/down_blocks.2/resnets.0/conv1/Conv',
      '/down_blocks.2/resnets.0/Add',
      '/down_blocks.2/resnets.0/Add_1',
    ]);
    expect(idx.inputs.map((i) => i.name)).toEqual(['sample', 'timestep']);
    expect(idx.initializers.map((i) => i.name).sort()).toEqual([
      'down_blocks.2.resnets.0.conv1.bias',
      'down_blocks.2.resnets.0.conv1.weight',
      'time_proj.scale',
    ]);
    expect(idx.valueInfo.map((v) => v.name)).toEqual([tap.res]);
    expect(idx.outputs).toEqual([{ name: tap.res }]);
    const got = await run(early.path);
    expect(Object.keys(got)).toEqual([tap.res]);
    expect(got[tap.res]).toEqual(full[tap.res]);

    const mid = await editGraph(inlinePath, { addOutputs: [tap.upQ], prune: true });
    expect(mid.inputs).toEqual(['sample', 'timestep', 'encoder_hidden_states']);
    const midIdx = await readGraphIndex(mid.path);
    expect(midIdx.nodes.length).toBeLessThan(model.nodeCount);
    expect(midIdx.nodes.some((n) => n.name.startsWith('/up_blocks.2/'))).toBe(false);
    expect(midIdx.nodes.at(-1)?.outputs).toEqual([tap.upQ]);
    expect((await run(mid.path))[tap.upQ]).toEqual(full[tap.upQ]);
  });

  it('keeps listed original outputs', async () => {
    const r = await editGraph(inlinePath, { addOutputs: [tap.upOut], prune: true, keepOutputs: ['out_sample'] });
    expect(r).toMatchObject({ outputs: ['out_sample', tap.upOut], removedNodes: 0 });
    const out = await run(r.path);
    expect(out.out_sample).toEqual((await run(inlinePath)).out_sample);
  });

  it('copies unknown (newer-schema) fields of the model, graph and kept nodes byte for byte', async () => {
    const graph = Buffer.from(onnx.GraphProto.encode(onnx.ModelProto.decode(model.bytes).graph as InstanceType<typeof onnx.GraphProto>).finish());
    const tail = { name: '/extra/Identity', opType: 'Identity', input: [tap.res], output: ['extra_out'] };
    const nodeBytes = Buffer.concat([onnx.NodeProto.encode(tail).finish(), encodeLenField(97, Buffer.from('future-node'))]);
    const graphBytes = Buffer.concat([graph, encodeLenField(1, nodeBytes), encodeLenField(98, Buffer.from('future-graph'))]);
    const head = onnx.ModelProto.encode({ irVersion: 8, producerName: 'twinlens-test', opsetImport: [{ version: 17 }] }).finish();
    const futureModel = encodeLenField(99, Buffer.from('future-model'));
    const dir = join(root, 'future');
    const path = join(dir, 'model.onnx');
    writeTinyUnet(dir);
    writeFileSync(path, Buffer.concat([head, encodeLenField(7, graphBytes), futureModel]));

    const r = await editGraph(path, { addOutputs: ['extra_out'], prune: true });
    const out = readFileSync(r.path);
    expect(out.includes(Buffer.from(encodeLenField(1, nodeBytes)))).toBe(true);
    expect(out.includes(Buffer.from(encodeLenField(98, Buffer.from('future-graph'))))).toBe(true);
    expect(out.includes(Buffer.from(futureModel))).toBe(true);
    expect(out.subarray(0, head.length).equals(Buffer.from(head))).toBe(true);
    expect(r.nodeCount).toBe(6);
    expect((await run(r.path)).extra_out).toEqual((await run((await editGraph(inlinePath, { addOutputs: [tap.res] })).path))[tap.res]);
  });

  it('prunes a model that was already edited by appending outputs', async () => {
    const appended = await editGraph(inlinePath, { addOutputs: [tap.q] });
    const pruned = await editGraph(appended.path, { addOutputs: [tap.q], prune: true });
    const idx = await readGraphIndex(pruned.path);
    expect(idx.outputs.map((o) => o.name)).toEqual([tap.q]);
    expect(idx.nodes.length).toBe(pruned.nodeCount);
    expect((await run(pruned.path))[tap.q]).toEqual((await run(appended.path))[tap.q]);
  });
});

describe('editGraph: external data, cache and errors', () => {
  it('edits an external-data model beside its weights without copying them', async () => {
    const dir = join(root, 'external');
    const { path } = writeTinyUnet(dir, { external: true });
    const r = await editGraph(path, { addOutputs: [tap.upQ], prune: true });
    expect(dirname(r.path)).toBe(dir);
    expect(readdirSync(dir).sort()).toEqual([basename(r.path), 'model.onnx', 'weights.pb'].sort());
    const idx = await readGraphIndex(r.path);
    expect(idx.usesExternalData).toBe(true);
    expect(idx.initializers.every((t) => t.external && t.inlineBytes === 0)).toBe(true);
    expect(statSync(r.path).size).toBeLessThan(statSync(path).size);
    const inlineRun = await run((await editGraph(inlinePath, { addOutputs: [tap.upQ], prune: true })).path);
    expect((await run(r.path))[tap.upQ]).toEqual(inlineRun[tap.upQ]);
  });

  it('reuses an identical edit without rewriting it, and cleanEditedGraphs removes edits', async () => {
    const dir = join(root, 'cache');
    const { path } = writeTinyUnet(dir, { external: true });
    const first = await editGraph(path, { addOutputs: [tap.res], prune: true });
    const before = statSync(first.path);
    await new Promise((r) => setTimeout(r, 20));
    const second = await editGraph(path, { addOutputs: [tap.res], prune: true });
    const after = statSync(second.path);
    expect(second).toMatchObject({ path: first.path, reused: true });
    expect(first.reused).toBe(false);
    expect(after.ino).toBe(before.ino);
    expect(after.mtimeMs).toBe(before.mtimeMs);
    const other = await editGraph(path, { addOutputs: [tap.res] });
    expect(other.path).not.toBe(first.path);

    writeFileSync(`${first.path}.tmp-1-deadbeef`, 'left over');
    const removed = await cleanEditedGraphs(root);
    expect(removed).toEqual(expect.arrayContaining([first.path, other.path, `${first.path}.tmp-1-deadbeef`]));
    expect(readdirSync(dir).sort()).toEqual(['model.onnx', 'weights.pb']);
    expect(await cleanEditedGraphs(join(root, 'missing'))).toEqual([]);
  });

  it('rejects names the graph does not have and bad keepOutputs', async () => {
    const err = await failure(editGraph(inlinePath, { addOutputs: [`${tap.q}x`] }));
    expect(err).toBeInstanceOf(TwinLensError);
    expect(err.code).toBe('TAP_NOT_FOUND');
    expect(err.message).toContain(`Nearest: ${tap.q}`);
    const keep = await failure(editGraph(inlinePath, { addOutputs: [tap.q], prune: true, keepOutputs: ['logits'] }));
    expect(keep.code).toBe('INVALID_ARGUMENT');
    expect(keep.hint).toContain('out_sample');
    const none = await failure(editGraph(inlinePath, { addOutputs: [], prune: true }));
    expect(none.code).toBe('INVALID_ARGUMENT');
  });

  it('fails on a corrupt model with ONNX_LOAD_FAILED', async () => {
    const path = join(root, 'corrupt.onnx');
    writeFileSync(path, buildTinyUnet().bytes.subarray(0, 500));
    const err = await failure(editGraph(path, { addOutputs: ['x'] }));
    expect(err.code).toBe('ONNX_LOAD_FAILED');
    expect(err.message).toMatch(/truncated/);
  });
});

describe('editGraph: read-only model folder', () => {
  /** Pretends the model's folder is read-only; other folders are written for real. */
  const readOnly = (folder: string): EditCacheIo => ({
    writeAtomic: async (path, chunks) => {
      if (dirname(path) === folder) throw Object.assign(new Error(`EROFS: read-only file system, open '${path}'`), { code: 'EROFS' });
      await writeAtomic(path, chunks);
    },
  });

  it('falls back to cacheDir for a model with inline weights', async () => {
    const dir = join(root, 'ro-inline');
    const cacheDir = join(root, 'ro-cache');
    const { path } = writeTinyUnet(dir);
    const r = await editGraph(path, { addOutputs: [tap.res], prune: true, cacheDir, io: readOnly(dir) });
    expect(dirname(r.path)).toBe(cacheDir);
    expect(Object.keys(await run(r.path))).toEqual([tap.res]);
    const again = await editGraph(path, { addOutputs: [tap.res], prune: true, cacheDir, io: readOnly(dir) });
    expect(again).toMatchObject({ path: r.path, reused: true });
  });

  const isRoot = process.getuid?.() === 0;
  it.skipIf(isRoot || process.platform === 'win32')('falls back for a folder that is really read-only (skipped as root, who can write anywhere)', async () => {
    const dir = join(root, 'ro-real');
    const cacheDir = join(root, 'ro-real-cache');
    const { path } = writeTinyUnet(dir);
    chmodSync(dir, 0o555);
    try {
      const r = await editGraph(path, { addOutputs: [tap.res], cacheDir });
      expect(dirname(r.path)).toBe(cacheDir);
      expect(readdirSync(dir)).toEqual(['model.onnx']);
    } finally {
      chmodSync(dir, 0o755);
    }
  });

  it('falls back for external data too: its own cache subfolder, the weights hard-linked, not copied', async () => {
    const dir = join(root, 'ro-external');
    const cacheDir = join(root, 'ro-cache2');
    const { path } = writeTinyUnet(dir, { external: true });
    const r = await editGraph(path, { addOutputs: [tap.res], prune: true, cacheDir, io: readOnly(dir) });
    expect(dirname(dirname(r.path))).toBe(cacheDir);
    const weights = join(dirname(r.path), 'weights.pb');
    expect(statSync(weights).ino).toBe(statSync(join(dir, 'weights.pb')).ino); // a hard link: the same file
    expect(Object.keys(await run(r.path))).toEqual([tap.res]);
    const again = await editGraph(path, { addOutputs: [tap.res], prune: true, cacheDir, io: readOnly(dir) });
    expect(again).toMatchObject({ path: r.path, reused: true });
    const noCache = await failure(editGraph(join(root, 'ro-inline', 'model.onnx'), { addOutputs: [tap.q], io: readOnly(join(root, 'ro-inline')) }));
    expect(noCache.code).toBe('ONNX_LOAD_FAILED');
    expect(noCache.hint).toMatch(/writable/);
  });
});
