/**
 * The contract's `visualize` on the tiny fixture pack, as the Features view
 * will call it: in-process on one image (every panel kind, correspondence
 * within the image, export files with tensors that equal `features`
 * bit-for-bit, a layers × timesteps sheet), and through the engine process
 * on a pair (joint PCA, intra-pair similarity, correspondence into image B,
 * PNG bytes and hover values crossing the process boundary as typed arrays).
 */
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { VisualizeParams } from '../../src/shared/contract.js';
import { Engine } from '../../src/engine/engine.js';
import { decodeSafetensors } from '../../src/engine/export/safetensors.js';
import { EngineClient } from '../../src/host/engine-client.js';
import { visualize } from '../../src/engine/viz/visualize.js';
import { SAMPLE, SAMPLE_B, TINY } from '../helpers/fixtures.js';

const QUESTION = 'what colour is the circle';
const TAPS = ['U-L1-R1-B0-Cross-Q', 'U-L2-R2-Res-Out'];

describe('visualize in the engine', () => {
  let engine: Engine;
  beforeAll(async () => {
    engine = await Engine.open(TINY, { provider: 'cpu' });
  });
  afterAll(() => engine?.dispose());

  it('draws every panel kind for one image, with hover values and export files', async () => {
    const events: string[] = [];
    const params = VisualizeParams.parse({
      images: [{ path: SAMPLE }],
      prompt: QUESTION,
      taps: TAPS,
      panels: ['image', 'pca', 'branches', 'difference', 'norm', 'channels', 'attention', 'clip', 'correspondence'],
      size: 64,
      point: { x: 20, y: 24 },
      channels: 4,
      files: { tensors: ['npy', 'safetensors'], panels: true, sheet: 'layers-timesteps', timesteps: [10, 50] },
    });
    const r = await visualize(engine, params, { emit: (e) => e.type === 'progress' && events.push(e.stage) });
    expect(events).toContain('visualize');
    expect(r.settings).toMatchObject({ t: 50, guidance: 4, prompt: QUESTION });
    const ids = r.panels.map((p) => p.id);
    expect(new Set(ids).size).toBe(ids.length);
    for (const kind of ['image', 'pca', 'difference', 'norm', 'channels', 'attention', 'correspondence'])
      expect(
        r.panels.some((p) => p.kind === kind),
        kind,
      ).toBe(true);
    expect(r.panels.filter((p) => p.kind === 'pca' && p.tap === TAPS[0]).map((p) => p.meta?.branch)).toEqual(['guided', 'cond', 'uncond']);
    expect(r.panels.some((p) => p.source === 'clip' && p.kind === 'pca')).toBe(true);
    for (const p of r.panels) {
      const meta = await sharp(Buffer.from(p.png)).metadata();
      expect([meta.width, meta.height], p.id).toEqual([p.width, p.height]);
      if (p.values && p.grid && p.valueNames) expect(p.values.length, p.id).toBe(p.grid.height * p.grid.width * p.valueNames.length);
    }
    // Within one image the point's own token is its best match: cosine 1.
    const m = r.correspondence!.find((c) => c.source === TAPS[0])!;
    expect(m).toMatchObject({ image: 0, row: 1, col: 1 });
    expect(m.score).toBeCloseTo(1, 5);
    expect([m.x, m.y]).toEqual([24, 24]);
    expect(r.correspondence!.map((c) => c.source)).toEqual(['clip', ...TAPS]);

    const names = r.files!.map((f) => f.name);
    for (const n of [
      'sample/U-L1-R1-B0-Cross-Q_t50_s4.safetensors',
      'sample/U-L1-R1-B0-Cross-Q_t50_s4_cond.npy',
      'sample/U-L1-R1-B0-Cross-Q_t50_s4.json',
      'sample/U-L1-R1-B0-Cross-Q_t50_s4_pca.png',
      'sample/clip.npy',
      'sample/cross-attention_t50.json',
      'sample/sheet.png',
      'sample/sheet.svg',
    ])
      expect(names).toContain(n);
    const st = decodeSafetensors(Buffer.from(r.files!.find((f) => f.name.endsWith('Cross-Q_t50_s4.safetensors'))!.bytes));
    // The same request through `features` gives the same bits.
    const direct = await engine.features({
      image: { path: SAMPLE },
      prompt: QUESTION,
      taps: TAPS,
      diffusion: {},
      crossAttention: true,
      clip: true,
      keepBranches: true,
    });
    const bytes = (a: Float32Array) => Buffer.from(a.buffer, a.byteOffset, a.byteLength);
    expect(bytes(st.tensors.get('guided')!.data).equals(bytes(direct.taps[0].data))).toBe(true);
    expect(bytes(st.tensors.get('uncond')!.data).equals(bytes(direct.taps[0].uncond!))).toBe(true);
    const side = JSON.parse(new TextDecoder().decode(r.files!.find((f) => f.name === 'sample/U-L1-R1-B0-Cross-Q_t50_s4.json')!.bytes));
    expect(side).toMatchObject({ pack: 'tiny', tap: TAPS[0], t: 50, guidance: 4, seed: 0, prompt: QUESTION, imageHash: r.imageHashes[0] });
    const svg = new TextDecoder().decode(r.files!.find((f) => f.name === 'sample/sheet.svg')!.bytes);
    expect(svg).toContain('>t = 10</text>');
  });

  it('needs a point inside the crop for correspondence', async () => {
    const p = VisualizeParams.parse({ images: [{ path: SAMPLE }], panels: ['correspondence'], size: 32 });
    await expect(visualize(engine, p)).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    await expect(visualize(engine, { ...p, point: { x: -5, y: 3 } })).rejects.toThrow(/outside/);
  });
});

describe('visualize through the engine process', () => {
  let client: EngineClient;
  beforeAll(async () => {
    client = await EngineClient.start({ packDir: TINY, provider: 'cpu' });
  });
  afterAll(async () => client?.dispose());

  it('compares a pair: joint PCA, similarity, correspondence into image B, binary panels', async () => {
    const r = await client.call('visualize', {
      images: [{ path: SAMPLE }, { path: SAMPLE_B }],
      prompt: QUESTION,
      taps: [TAPS[0]],
      panels: ['pca', 'clip', 'correspondence'],
      size: 48,
      point: { x: 40, y: 45 },
      files: { sheet: 'pair' },
    });
    const pca = r.panels.filter((p) => p.kind === 'pca' && p.source === 'diffusion');
    expect(pca.map((p) => p.image)).toEqual([0, 1]);
    expect(pca[0].meta?.jointWith).toBe(2);
    expect(pca[0].png).toBeInstanceOf(Uint8Array);
    expect(pca[0].values).toBeInstanceOf(Float32Array);
    expect(Object.keys(r.similarity!).sort()).toEqual([TAPS[0], 'clip'].sort());
    for (const s of Object.values(r.similarity!)) {
      expect(s.tokenwise).toBeGreaterThanOrEqual(-1);
      expect(s.tokenwise).toBeLessThanOrEqual(1 + 1e-9);
      expect(s.pooled).toBeLessThanOrEqual(1 + 1e-9);
    }
    expect(r.correspondence!.every((c) => c.image === 1 && c.x >= 0 && c.x <= 64 && c.y >= 0 && c.y <= 64)).toBe(true);
    expect(r.files!.map((f) => f.name).sort()).toEqual(['pair-sheet.png', 'pair-sheet.svg']);
  });
});
