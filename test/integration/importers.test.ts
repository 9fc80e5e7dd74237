/**
 * `packs import` on every family fixture (test/fixtures/families, built by
 * training/twinlens_train/fixtures/families.py): compose, validate, then run the engine on
 * the composed pack and compare with the PyTorch goldens — so an importer bug
 * shows up as a wrong number, not only as a wrong manifest field.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { Engine } from '../../src/engine/engine.js';
import { importPack } from '../../src/engine/importers/import-pack.js';
import { AskParams, FeaturesParams } from '../../src/shared/contract.js';
import { ROOT, SAMPLE, expectClose } from '../helpers/fixtures.js';
import { decodeNpy } from '../../src/engine/export/npy.js';

const FAM = path.join(ROOT, 'test', 'fixtures', 'families');
const g = JSON.parse(fs.readFileSync(path.join(FAM, 'golden.json'), 'utf8'));
const npy = (f: string) => decodeNpy(fs.readFileSync(path.join(FAM, 'golden', f))).data;
// Inside the repository (same file system as the fixtures, so hard links work); .cache/ is git-ignored.
const WORK = path.join(ROOT, '.cache', `test-importers-${process.pid}`);
afterAll(() => fs.rmSync(WORK, { recursive: true, force: true }));

async function tapsOf(dir: string, taps: string[]) {
  const engine = await Engine.open(dir, { provider: 'cpu' });
  try {
    const res = await engine.features(
      FeaturesParams.parse({ image: { path: SAMPLE }, prompt: g.question, taps, diffusion: { t: 50, guidance: 4, seed: 0 }, crossAttention: false }),
    );
    return { res, info: engine.packInfo() };
  } finally {
    engine.dispose();
  }
}

describe('SD 1.5 diffusers-script + transformers.js CLIP + LLaVA-Qwen + projectors', () => {
  const out = path.join(WORK, 'full');
  let report: Awaited<ReturnType<typeof importPack>>;

  it('composes a usable pack with hard links and reports what it found', async () => {
    report = await importPack({
      sd: path.join(FAM, 'sd15-diffusers'),
      clip: path.join(FAM, 'clip-vit-transformersjs'),
      llm: path.join(FAM, 'llava-qwen-transformersjs'),
      projectors: path.join(FAM, 'projectors'),
      out,
    });
    expect(report.validation?.checks.filter((c) => c.status === 'error')).toEqual([]);
    expect(report.usable).toBe(true);
    expect(report.sd).toMatchObject({
      layout: 'diffusers-script',
      pipelineClass: 'OnnxStableDiffusionPipeline',
      family: 'sd1',
      imageSize: 64,
      timestep: 'float32 [1]',
      ioDtype: 'float32',
      textInputDtype: 'int32',
      tokenizer: 'vocab+merges',
      externalData: ['weights.pb'],
      optimised: false,
      crossAttentionMaps: true,
      unavailableTaps: [],
    });
    expect(report.sd!.familySource).toMatch(/proj_in is a 1×1 Conv/);
    expect(report.clip).toMatchObject({ numLayers: 3, layer: 'penultimate' });
    expect(report.llm).toMatchObject({ numLayers: 2, numKvHeads: 2, headDim: 8, dtype: 'float32', imageToken: '<image>', stopTokens: ['<|im_end|>'] });
    expect(report.placement.copied).toBe(0);
    expect(report.placement.hardlinked).toBeGreaterThan(10);
    // Hard links: the pack's weights are the fixture's bytes, not a copy.
    const a = fs.statSync(path.join(out, 'sd/unet/weights.pb'));
    const b = fs.statSync(path.join(FAM, 'sd15-diffusers/unet/weights.pb'));
    expect(a.ino).toBe(b.ino);
    const caps = Object.fromEntries(report.capabilities.map((c) => [c.id, c.available]));
    expect(caps).toMatchObject({
      'feature-maps': true,
      'cross-attention': true,
      correspondence: true,
      'clip-features': true,
      'mode:clip': true,
      'mode:diffusion': true,
      'mode:fused': true,
    });
    expect(report.manifest.modes.diffusion.diffusion).toMatchObject({ tap: 'U-L1-R1-B0-Cross-Q', t: 50, guidance: 4 });
    expect(report.manifest.diffusion).toMatchObject({ family: 'sd1', padTokenId: g.clip_tokenizer.pad_ids['sd15-diffusers'], imageSize: 64 });
  });

  it('extracts the reference features and answers with the reference tokens', async () => {
    const engine = await Engine.open(out, { provider: 'cpu' });
    try {
      const res = await engine.features(
        FeaturesParams.parse({
          image: { path: SAMPLE },
          prompt: g.question,
          taps: Object.keys(g['sd15-diffusers'].taps),
          diffusion: { t: 50, guidance: 4, seed: 0 },
          crossAttention: true,
          clip: true,
        }),
      );
      for (const tap of res.taps) expectClose(tap.data, npy(g['sd15-diffusers'].taps[tap.alias].file), { atol: 2e-3 * 9, rtol: 2e-3 }, tap.alias);
      expect(res.crossAttention!.layers.length).toBeGreaterThan(0);
      expectClose(res.clip!.data, npy(g.clip.penultimate), g.tolerances.clip, 'CLIP penultimate');
      const want = g.llava.clip_mode.generated_ids as number[];
      const ids: number[] = [];
      const ans = await engine.ask(
        AskParams.parse({ image: { path: SAMPLE }, question: g.question, modes: ['clip'], generation: { maxTokens: want.length } }),
        {
          emit: (e) => e.type === 'token' && ids.push(e.tokenId),
        },
      );
      expect(ans.answers.clip.error).toBeUndefined();
      expect(ids).toEqual(want.filter((id) => id !== g.llm_tokenizer.eos_id));
    } finally {
      engine.dispose();
    }
  });
});

describe('SD 2.1 Optimum layout alone', () => {
  it('imports int64 scalar timestep, int64 ids, "!" padding; features work without an LLM', async () => {
    const out = path.join(WORK, 'optimum');
    const r = await importPack({ sd: path.join(FAM, 'sd21-optimum'), out });
    expect(r.usable).toBe(true);
    expect(r.sd).toMatchObject({
      layout: 'optimum',
      family: 'sd2',
      timestep: 'int64 []',
      textInputDtype: 'int64',
      externalData: ['model.onnx_data'],
      padTokenId: g.clip_tokenizer.pad_ids['sd21-optimum'],
    });
    expect(r.sd!.imageSizeSource).toMatch(/sample_size 16 × 4/);
    const caps = Object.fromEntries(r.capabilities.map((c) => [c.id, c]));
    expect(caps['feature-maps'].available && caps['cross-attention'].available).toBe(true);
    expect(caps.answers).toMatchObject({ available: false, reason: expect.stringMatching(/no LLM/) });
    const { res } = await tapsOf(out, Object.keys(g['sd21-optimum'].taps));
    for (const tap of res.taps) expectClose(tap.data, npy(g['sd21-optimum'].taps[tap.alias].file), { atol: 2e-3 * 9, rtol: 2e-3 }, tap.alias);
  });
});

describe('Olive-style optimised fp16 export', () => {
  it('detects fused attention, says which maps are gone, and still extracts the taps', async () => {
    const out = path.join(WORK, 'olive');
    const r = await importPack({ sd: path.join(FAM, 'sd15-olive-fp16'), out });
    expect(r.usable).toBe(true);
    expect(r.sd).toMatchObject({ layout: 'optimised', family: 'sd1', timestep: 'float16 [1]', ioDtype: 'float16', optimised: true, crossAttentionMaps: false });
    const xattn = r.capabilities.find((c) => c.id === 'cross-attention')!;
    expect(xattn.available).toBe(false);
    expect(xattn.reason).toMatch(/MultiHeadAttention.*unoptimised fp32 export/);
    expect(r.notes.join('\n')).toMatch(/Optimised export: \d+× MultiHeadAttention/);
    const { res } = await tapsOf(out, Object.keys(g['sd15-olive-fp16'].taps));
    for (const tap of res.taps) expectClose(tap.data, npy(g['sd15-olive-fp16'].taps[tap.alias].file), { atol: 2e-2 * 9, rtol: 2e-2 }, tap.alias);
  });
});

describe('LLM with its own vision encoder, no CLIP', () => {
  it('composes the native baseline mode (vision_encoder + identity projector) and answers like the reference', async () => {
    const out = path.join(WORK, 'native');
    const r = await importPack({ llm: path.join(FAM, 'llava-qwen-transformersjs'), out });
    expect(r.usable).toBe(true);
    expect(r.manifest.modes.native).toMatchObject({ inputs: ['clip'], fusion: 'none' });
    expect(r.capabilities.find((c) => c.id === 'feature-maps')).toMatchObject({ available: false, reason: expect.stringMatching(/no Stable Diffusion/) });
    const engine = await Engine.open(out, { provider: 'cpu' });
    try {
      const want = g.llava.native_mode.generated_ids as number[];
      const ids: number[] = [];
      const ans = await engine.ask(
        AskParams.parse({ image: { path: SAMPLE }, question: g.question, modes: ['native'], generation: { maxTokens: want.length } }),
        {
          emit: (e) => e.type === 'token' && ids.push(e.tokenId),
        },
      );
      expect(ans.answers.native.error).toBeUndefined();
      expect(ids).toEqual(want.filter((id) => id !== g.llm_tokenizer.eos_id));
    } finally {
      engine.dispose();
    }
  });
});

describe('trained modes side by side (--trained: projectors + the LLM each stage 2 tuned)', () => {
  const root = path.join(WORK, 'trained');
  /** A training export of one mode: projectors/ (projectors.json naming the run's mode) + llm/. */
  function trainedFolder(
    name: string,
    mode: string,
    kinds: Array<'clip' | 'diffusion'>,
    opts: { llm?: boolean; tokenizerEdit?: boolean; runs?: unknown[] } = {},
  ): string {
    const dir = path.join(root, name);
    fs.mkdirSync(path.join(dir, 'projectors'), { recursive: true });
    const src = JSON.parse(fs.readFileSync(path.join(FAM, 'projectors', 'projectors.json'), 'utf8'));
    const doc: Record<string, unknown> = { format: 'twinlens-projectors', version: 1, runs: opts.runs ?? [{ mode, stage: 2 }] };
    for (const k of kinds) {
      fs.copyFileSync(path.join(FAM, 'projectors', `${k}.onnx`), path.join(dir, 'projectors', `${k}.onnx`));
      doc[k] = src[k];
    }
    fs.writeFileSync(path.join(dir, 'projectors', 'projectors.json'), JSON.stringify(doc));
    if (opts.llm !== false) {
      fs.cpSync(path.join(FAM, 'llava-qwen-transformersjs'), path.join(dir, 'llm'), { recursive: true });
      if (opts.tokenizerEdit) {
        const tj = path.join(dir, 'llm', 'tokenizer.json');
        const t = JSON.parse(fs.readFileSync(tj, 'utf8'));
        t.added_tokens.push({ id: 9999, content: '<extra>', single_word: false, lstrip: false, rstrip: false, normalized: false, special: true });
        fs.writeFileSync(tj, JSON.stringify(t));
      }
    }
    return dir;
  }
  const base = { sd: path.join(FAM, 'sd15-diffusers'), clip: path.join(FAM, 'clip-vit-transformersjs') };

  it('composes one pack whose modes each use their own projectors and tuned decoder, and answers in both', async () => {
    const out = path.join(root, 'pack');
    // One folder holding a subfolder per mode, as the export writes them (what the Models view passes).
    trainedFolder('modes/clip', 'clip', ['clip']);
    trainedFolder('modes/diff', 'diffusion', ['diffusion']);
    const report = await importPack({ ...base, trained: [path.join(root, 'modes')], out });
    expect(report.usable).toBe(true);
    expect(report.trained).toEqual([
      { mode: 'clip', dir: path.join(root, 'modes', 'clip'), tunedLlm: true },
      { mode: 'diffusion', dir: path.join(root, 'modes', 'diff'), tunedLlm: true },
    ]);
    const m = report.manifest.modes;
    expect(Object.keys(m).sort()).toEqual(['clip', 'diffusion']);
    expect(m.clip.projectors.clip!.path).toBe('projectors/clip/clip.onnx');
    expect(m.clip.llm).toEqual({ embedTokens: { path: 'llm/clip/embed_tokens.onnx' }, decoder: { path: 'llm/clip/decoder_model_merged.onnx' } });
    expect(m.diffusion.llm!.decoder!.path).toBe('llm/diffusion/decoder_model_merged.onnx');
    expect(m.diffusion.diffusion).toMatchObject({ tap: 'U-L1-R1-B0-Cross-Q', t: 50 });
    // Without --llm the first tuned LLM gives the pack its tokenizer and KV layout.
    expect(report.manifest.llm).toMatchObject({ tokenizer: 'llm/tokenizer.json', numLayers: 2, numKvHeads: 2, headDim: 8 });
    const engine = await Engine.open(out, { provider: 'cpu' });
    try {
      const want = g.llava.clip_mode.generated_ids as number[];
      const ids: number[] = [];
      const ans = await engine.ask(
        AskParams.parse({ image: { path: SAMPLE }, question: g.question, modes: ['clip', 'diffusion'], generation: { maxTokens: want.length } }),
        {
          emit: (e) => e.type === 'token' && e.mode === 'clip' && ids.push(e.tokenId),
        },
      );
      expect(ans.answers.clip.error).toBeUndefined();
      expect(ans.answers.diffusion.error).toBeUndefined();
      expect(ids).toEqual(want.filter((id) => id !== g.llm_tokenizer.eos_id));
    } finally {
      engine.dispose();
    }
  });

  it('refuses two folders of one mode, a folder naming no mode, and a tuned LLM with another tokenizer', async () => {
    const a = trainedFolder('a', 'clip', ['clip']);
    const b = trainedFolder('b', 'clip', ['clip']);
    await expect(importPack({ ...base, trained: [a, b], out: path.join(root, 'p1'), validate: false })).rejects.toThrow(
      /Two --trained folders hold the mode clip/,
    );
    const none = trainedFolder('none', 'clip', ['clip'], { runs: [] });
    await expect(importPack({ ...base, trained: [none], out: path.join(root, 'p2'), validate: false })).rejects.toThrow(
      /names no trained mode; a --trained folder holds exactly one/,
    );
    const other = trainedFolder('other', 'diffusion', ['diffusion'], { tokenizerEdit: true });
    await expect(importPack({ ...base, trained: [a, other], out: path.join(root, 'p3'), validate: false })).rejects.toThrow(
      /The LLM tuned for diffusion .* cannot share this pack's tokenizer and KV cache: its tokenizer.json differs/,
    );
    const noProj = path.join(root, 'empty');
    fs.mkdirSync(noProj, { recursive: true });
    await expect(importPack({ ...base, trained: [noProj], out: path.join(root, 'p4'), validate: false })).rejects.toThrow(
      /has no projectors\/ folder, nor subfolders with one/,
    );
  });
});
