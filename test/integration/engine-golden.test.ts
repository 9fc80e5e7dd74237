/**
 * The engine against golden values computed by the PyTorch reference when the
 * fixtures were built (training/twinlens_train/fixtures/make.py): VAE latent, taps at three
 * layers (guided, cond, uncond), cross-attention, CLIP penultimate patches and
 * the first greedy tokens of every answer mode.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Engine } from '../../src/engine/engine.js';
import { AskParams, FeaturesParams } from '../../src/shared/contract.js';
import { SAMPLE, TINY, TINY_FP16, expectClose, golden, npy } from '../helpers/fixtures.js';

describe('tiny pack (fp32, external-data UNet, int64 timestep)', () => {
  const g = golden(TINY);
  let engine: Engine;
  beforeAll(async () => {
    engine = await Engine.open(TINY, { provider: 'cpu' });
  });
  afterAll(() => engine?.dispose());

  it('describes its modes and resolves every study tap', () => {
    const info = engine.packInfo();
    const modes = Object.fromEntries(info.modes.map((m) => [m.id, m]));
    expect(modes.clip.available && modes.diffusion.available && modes.fused.available).toBe(true);
    expect(modes['fused-xattn'].extra).toBe(true);
    const study = info.taps.filter((t) => t.study);
    expect(study).toHaveLength(6);
    expect(study.every((t) => t.available)).toBe(true);
    for (const [alias, t] of Object.entries(g.taps) as Array<[string, { onnx_tensor: string }]>) {
      expect(info.taps.find((x) => x.alias === alias)?.tensorName).toBe(t.onnx_tensor);
    }
  });

  it('extracts taps, branches, cross-attention and CLIP features matching the reference', async () => {
    const tol = g.tolerances;
    // Guided = f_u + s·(f_c − f_u) amplifies per-branch float error by up to 1 + 2s.
    const amp = 1 + 2 * Math.abs(g.guidance);
    const e2e = tol.taps_end_to_end ?? tol.taps;
    const guidedTol = { atol: e2e.atol * amp, rtol: e2e.rtol };
    const res = await engine.features(
      FeaturesParams.parse({
        image: { path: SAMPLE },
        prompt: g.prompt,
        taps: Object.keys(g.taps),
        diffusion: { t: g.t, guidance: g.guidance, seed: g.seed },
        crossAttention: true,
        crossAttentionLayers: [g.cross_attention.layer.replace(/\./g, '/').replace(/\/(\d)/g, '.$1')],
        clip: true,
        keepBranches: true,
      }),
    );
    for (const tap of res.taps) {
      const spec = g.taps[tap.alias];
      expect([tap.height * tap.width, tap.channels]).toEqual(spec.shape);
      expectClose(tap.data, npy(TINY, spec.guided).data, guidedTol, `${tap.alias} guided`);
      if (spec.cond) {
        expectClose(tap.cond!, npy(TINY, spec.cond).data, e2e, `${tap.alias} cond`);
        expectClose(tap.uncond!, npy(TINY, spec.uncond).data, e2e, `${tap.alias} uncond`);
      }
    }
    const x = res.crossAttention!;
    expect(x.layers).toEqual([g.cross_attention.onnx_tensor]);
    const want = npy(TINY, g.cross_attention.file);
    const n = x.tokens.length;
    expect(x.tokens).toEqual(g.cross_attention.tokens.slice(0, n));
    expectClose(x.maps, want.data.slice(0, n * x.height * x.width), tol.cross_attention, 'cross-attention');
    expectClose(res.clip!.data, npy(TINY, g.clip.penultimate).data, tol.clip, 'CLIP penultimate');
    expect(res.settings).toMatchObject({ t: g.t, guidance: g.guidance, seed: g.seed, prompt: g.prompt });
  });

  it('answers with the reference greedy tokens in every mode, streaming them', async () => {
    const ids: Record<string, number[]> = {};
    const res = await engine.ask(AskParams.parse({ image: { path: SAMPLE }, question: g.prompt, modes: Object.keys(g.modes), generation: { maxTokens: 8 } }), {
      emit: (e) => e.type === 'token' && (ids[e.mode] ??= []).push(e.tokenId),
    });
    for (const [mode, spec] of Object.entries(g.modes) as Array<[string, { generated_ids: number[]; text: string }]>) {
      const eos = spec.generated_ids.indexOf(3);
      const want = eos >= 0 ? spec.generated_ids.slice(0, eos) : spec.generated_ids;
      expect(ids[mode]?.slice(0, want.length), `mode ${mode}`).toEqual(want);
      expect(res.answers[mode].text.trim()).toBe(spec.text.trim());
      expect(res.answers[mode].error).toBeUndefined();
    }
  });

  it('reuses cached latents and unconditional features for a second question', async () => {
    const p = FeaturesParams.parse({ image: { path: SAMPLE }, prompt: g.prompt, taps: ['U-L1-R1-B0-Cross-Q'], keepBranches: true });
    const a = await engine.features(p);
    const b = await engine.features({ ...p, prompt: 'how many squares are there' });
    expectClose(b.taps[0].uncond!, a.taps[0].uncond!, { atol: 0, rtol: 0 }, 'cached uncond');
    expect(Array.from(b.taps[0].cond!)).not.toEqual(Array.from(a.taps[0].cond!));
  });

  it('names the nearest taps when one is missing', async () => {
    await expect(engine.features(FeaturesParams.parse({ image: { path: SAMPLE }, taps: ['U-L1-R9-B0-Cross-Q'] }))).rejects.toMatchObject({
      code: 'TAP_NOT_FOUND',
      message: expect.stringMatching(/U-L1-R\d-B0-Cross-Q/),
    });
  });
});

describe('tiny-fp16 pack (float16 UNet I/O, model.onnx_data, no LLM)', () => {
  const g = golden(TINY_FP16);
  let engine: Engine;
  beforeAll(async () => {
    engine = await Engine.open(TINY_FP16, { provider: 'cpu' });
  });
  afterAll(() => engine?.dispose());

  it('converts float16 inputs and outputs and matches the reference taps', async () => {
    const res = await engine.features(
      FeaturesParams.parse({ image: { path: SAMPLE }, prompt: g.prompt, taps: Object.keys(g.taps), diffusion: { t: g.t, guidance: g.guidance, seed: g.seed } }),
    );
    for (const tap of res.taps) expectClose(tap.data, npy(TINY_FP16, g.taps[tap.alias].guided).data, g.tolerances.taps, `${tap.alias} (fp16 pack)`);
  });

  it('reports that it cannot answer, without failing the pack', async () => {
    expect(engine.packInfo().hasLlm).toBe(false);
    await expect(engine.ask(AskParams.parse({ image: { path: SAMPLE }, question: 'what colour is the circle' }))).rejects.toMatchObject({
      code: 'MODE_UNAVAILABLE',
    });
  });
});
