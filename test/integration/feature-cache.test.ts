/**
 * One UNet pass per question, however many columns ask: the Ask view sends one `ask` per
 * answer column, and the engine's FeatureCache lets the second and later diffusion-reading
 * columns (and re-runs) reuse the first one's tokens — with the answers a fresh engine gives.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Engine } from '../../src/engine/engine.js';
import { AskParams } from '../../src/shared/contract.js';
import { SAMPLE, TINY } from '../helpers/fixtures.js';
import { StageTimer } from '../../src/engine/util/timer.js';

const q = 'what colour is the circle';
const ask = (modes: string[], diffusion: Record<string, number> = {}) =>
  AskParams.parse({ image: { path: SAMPLE }, question: q, modes, diffusion, generation: { maxTokens: 6 } });

describe('FeatureCache across asks', () => {
  let engine: Engine;
  beforeAll(async () => {
    engine = await Engine.open(TINY, { provider: 'cpu' });
  });
  afterAll(() => engine.dispose());

  it('runs the UNet once for the diffusion and fused columns of one question, and again for other settings', async () => {
    const unetRuns = async (modes: string[], diffusion?: Record<string, number>) => {
      const timer = new StageTimer();
      const r = await engine.ask(ask(modes, diffusion), { timer });
      const unet = (timer.samples.get('unet_batch2')?.length ?? 0) + (timer.samples.get('unet_cond_only')?.length ?? 0);
      return { r, unet };
    };
    const a = await unetRuns(['diffusion']);
    expect(a.unet).toBeGreaterThan(0);
    const b = await unetRuns(['fused']); // the next column: same image, question and settings
    expect(b.unet).toBe(0);
    const again = await unetRuns(['diffusion']); // a re-run
    expect(again.unet).toBe(0);
    expect(again.r.answers.diffusion.text).toBe(a.r.answers.diffusion.text);
    const other = await unetRuns(['diffusion'], { seed: 7 }); // another seed is another extraction
    expect(other.unet).toBeGreaterThan(0);
    expect(engine.featureCache.snapshot()).toMatchObject({ misses: 3, hits: 2 }); // misses: diffusion s0, clip, diffusion s7

    // The cached tokens are what a fresh engine computes: the same answers.
    const fresh = await Engine.open(TINY, { provider: 'cpu' });
    try {
      const f = await fresh.ask(ask(['fused']));
      expect(f.answers.fused.text).toBe(b.r.answers.fused.text);
    } finally {
      fresh.dispose();
    }
  });
});
