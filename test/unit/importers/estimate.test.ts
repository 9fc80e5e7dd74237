/**
 * The cost and memory estimate before loading: UNet MACs of the family
 * fixture against a PyTorch hook count, pruned cost per tap in the expected
 * order, the KV cache formula, refusal when the pack cannot fit (in the
 * estimator and in Engine.open), and the force switches.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Engine } from '../../../src/engine/engine.js';
import { readGraphIndex } from '../../../src/engine/graph/onnx-index.js';
import { resolveTap } from '../../../src/engine/graph/tap-resolve.js';
import { importPack } from '../../../src/engine/importers/import-pack.js';
import { assertPackFits, estimatePack } from '../../../src/engine/importers/memory-estimate.js';
import { unetActivationBytes, unetCost, unetShapeFromGraph } from '../../../src/engine/importers/unet-cost.js';

const FAM = path.resolve('test/fixtures/families');
const golden = JSON.parse(fs.readFileSync(path.join(FAM, 'golden.json'), 'utf8'));
const WORK = path.resolve('.cache', `test-estimate-${process.pid}`);
const PACK = path.join(WORK, 'pack');

beforeAll(async () => {
  await importPack({ sd: path.join(FAM, 'sd15-diffusers'), llm: path.join(FAM, 'llava-qwen-transformersjs'), out: PACK, validate: false });
});
afterAll(() => fs.rmSync(WORK, { recursive: true, force: true }));
afterEach(() => {
  delete process.env.TWINLENS_FORCE_LOAD;
  delete process.env.TWINLENS_MEMORY_LIMIT;
});

describe('UNet cost', () => {
  it('counts the MACs of a full pass within 5 % of the PyTorch hook count', async () => {
    for (const name of ['sd15-diffusers', 'sd21-optimum']) {
      const index = await readGraphIndex(path.join(FAM, name, 'unet/model.onnx'));
      const shape = unetShapeFromGraph(index, 16, 77);
      expect(shape.channels).toEqual([8, 8, 16, 16]);
      expect(shape.attentionLevels).toEqual([true, true, true, false]);
      const cost = unetCost(index, shape, undefined);
      expect(cost.macsTotal / golden.unet_macs[name]).toBeGreaterThan(0.95);
      expect(cost.macsTotal / golden.unet_macs[name]).toBeLessThan(1.05);
      expect(cost.nodesKept).toBe(cost.nodesTotal);
    }
  });

  it('prunes after the tap: earlier taps cost less and load fewer weights', async () => {
    const index = await readGraphIndex(path.join(FAM, 'sd15-diffusers/unet/model.onnx'));
    const shape = unetShapeFromGraph(index, 16, 77);
    const costOf = (alias: string) => unetCost(index, shape, [resolveTap(index, alias).tensorName]);
    const early = costOf('D-L2-R0-B0-Cross-Q');
    const best = costOf('U-L1-R1-B0-Cross-Q');
    const late = costOf('U-L2-R2-Res-Out');
    expect(early.macsKept).toBeLessThan(best.macsKept);
    expect(best.macsKept).toBeLessThan(late.macsKept);
    expect(late.macsKept).toBeLessThan(late.macsTotal);
    expect(early.weightBytesKept).toBeLessThan(late.weightBytesKept);
    expect(early.finestKeptLevel).toBe(0);
  });

  it('puts SD 1.5 activations at 512 px in the right range (self-attention scores dominate)', () => {
    const sd15 = { latent: 64, channels: [320, 640, 1280, 1280], attentionLevels: [true, true, true, false], textLength: 77, batch: 2 };
    const bytes = unetActivationBytes(sd15);
    expect(bytes).toBeGreaterThan(0.5e9);
    expect(bytes).toBeLessThan(2e9); // channels ÷ 64 heads (SD 2.x)
    expect(unetActivationBytes(sd15, 2)).toBeLessThan(bytes / 5);
    expect(unetActivationBytes(sd15, 0, true)).toBeLessThan(bytes / 2);
    // SD 1.x's 8 heads at the 320-channel level (not 320 ÷ 64 = 5): the softmax's input and output,
    // 2 × (2 · 8 · 4096² floats) = 2.15 GB, as measured on a seeded SD 1.5 UNet (docs/performance.md).
    const sd1 = unetActivationBytes({ ...sd15, heads: [8, 8, 8, 8] });
    expect(sd1).toBeGreaterThan(2.15e9);
    expect(sd1).toBeLessThan(2.6e9);
  });
});

describe('memory estimate', () => {
  it('lists weights, activations and the KV cache per component', async () => {
    const e = await estimatePack(PACK, { maxLength: 1000, freeBytes: 64e9 });
    const by = Object.fromEntries(e.components.map((c) => [c.label, c]));
    expect(Object.keys(by)).toEqual([
      'diffusion.vaeEncoder',
      'diffusion.textEncoder',
      'diffusion.unet',
      'clip.vision',
      'llm.embedTokens',
      'llm.decoder',
      'modes.native.projectors.clip',
    ]);
    // 2 (K,V) × 2 layers × 2 KV heads × head 8 × 1000 tokens × 4 bytes.
    expect(by['llm.decoder'].kvCacheBytes).toBe(2 * 2 * 2 * 8 * 1000 * 4);
    const unetFiles = ['model.onnx', 'weights.pb'].reduce((a, f) => a + fs.statSync(path.join(PACK, 'sd/unet', f)).size, 0);
    expect(by['diffusion.unet'].weightsBytes).toBeLessThan(unetFiles);
    expect(by['diffusion.unet'].weightsBytes).toBeGreaterThan(unetFiles / 4);
    expect(e.tap).toMatchObject({ alias: 'U-L1-R1-B0-Cross-Q', tensor: expect.stringContaining('/up_blocks.1/attentions.1/') });
    expect(e.tap!.cost!.fraction).toBeGreaterThan(0.2);
    expect(e.tap!.cost!.fraction).toBeLessThan(0.8);
    expect(e.fits).toBe(true);
    expect(e.totalBytes).toBe(e.components.reduce((a, c) => a + c.totalBytes, 0));
  });

  it('refuses a pack that cannot fit, with the numbers, unless forced', async () => {
    expect((await estimatePack(PACK, { freeBytes: 1e6 })).fits).toBe(false);
    await expect(assertPackFits(PACK, { freeBytes: 1e6 })).rejects.toMatchObject({
      code: 'INSUFFICIENT_MEMORY',
      message: expect.stringMatching(/needs about .* GiB of memory but 0\.0 GiB is available \(largest: /),
    });
    await expect(assertPackFits(PACK, { freeBytes: 1e6, force: true })).resolves.toBeUndefined();
    process.env.TWINLENS_FORCE_LOAD = '1';
    await expect(assertPackFits(PACK, { freeBytes: 1e6 })).resolves.toBeUndefined();
  });

  it('makes Engine.open refuse under TWINLENS_MEMORY_LIMIT and open with force', async () => {
    process.env.TWINLENS_MEMORY_LIMIT = '1000000';
    await expect(Engine.open(PACK, { provider: 'cpu' })).rejects.toMatchObject({ code: 'INSUFFICIENT_MEMORY' });
    const e = await Engine.open(PACK, { provider: 'cpu', force: true });
    e.dispose();
  });
});
