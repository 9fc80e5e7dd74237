/**
 * The contract's `leakage` (the Eval view's leakage probe) on the tiny
 * fixture pack (random weights: structure only, not leakage): in-process it
 * streams progress and returns the `twinlens leakage` report; an abort
 * returns a partial report (complete: false); through the engine process it
 * is a contract method like any other.
 */
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LeakageParams, type EngineEvent } from '../../src/shared/contract.js';
import { Engine } from '../../src/engine/engine.js';
import { leakage, leakageModes } from '../../src/engine/eval/leakage-method.js';
import { EngineClient } from '../../src/host/engine-client.js';
import { FIXTURES, TINY } from '../helpers/fixtures.js';

const SUITE = path.join(FIXTURES, 'suites', 'tiny-shapes.jsonl');

describe('leakage in the engine', () => {
  let engine: Engine;
  beforeAll(async () => {
    engine = await Engine.open(TINY, { provider: 'cpu' });
  });
  afterAll(() => engine?.dispose());

  it('defaults to the modes reading diffusion features, extras included', () => {
    const info = engine.packInfo();
    const modes = leakageModes(info, undefined);
    expect(modes).toEqual(info.modes.filter((m) => m.available && m.inputs.includes('diffusion')).map((m) => m.id));
    expect(modes).toEqual(expect.arrayContaining(['diffusion', 'fused']));
    expect(modes).not.toContain('clip');
    expect(LeakageParams.parse({ suite: 'x' })).toMatchObject({ guidance: [1, 1.5, 4], task: 'qa' });
    expect(LeakageParams.safeParse({ suite: 'x', limit: 1 }).success).toBe(false);
  });

  it('runs the three conditions per s with progress and returns the report', async () => {
    const events: EngineEvent[] = [];
    const r = await leakage(engine, LeakageParams.parse({ suite: SUITE, limit: 4, guidance: [1, 4], generation: { maxTokens: 3 } }), {
      emit: (e) => events.push(e),
    });
    expect(r).toMatchObject({
      format: 'twinlens-leakage',
      version: 1,
      task: 'qa',
      guidance: [1, 4],
      evaluated: 4,
      complete: true,
      suite: { name: 'tiny-shapes' },
    });
    expect(r.modes).toEqual(expect.arrayContaining(['diffusion', 'fused']));
    expect(r.rows.map((x) => x.guidance)).toEqual([1, 4]);
    for (const row of r.rows) {
      for (const m of r.modes) {
        const c = row.modes[m];
        expect(c.matched.accuracy.n).toBe(4);
        expect(c.gap.cider).toBeCloseTo(c.matched.cider - c.empty.cider, 10);
        expect(c.leakage.excessCider).toBeCloseTo(c.leakage.cider - c.leakage.controlCider, 10);
        for (const v of [c.leakage.cider, c.leakage.f1, c.matched.f1, c.empty.cider]) expect(Number.isFinite(v)).toBe(true);
      }
    }
    // (b) is asked once per item: its scores repeat in every row.
    expect(r.rows[0].modes.diffusion.empty).toEqual(r.rows[1].modes.diffusion.empty);
    expect(r.items).toHaveLength(4);
    expect(r.items![0].partner).not.toBe(r.items![0].id);
    // 4 items × (1 empty + 2 × 2 guidance) asks.
    expect(events.filter((e) => e.type === 'eval-progress').at(-1)).toMatchObject({ done: 20, total: 20, running: {} });
    expect(events.some((e) => e.type === 'progress' && e.stage === 'leakage')).toBe(true);
  });

  it('stops on abort and returns the partial report marked incomplete', async () => {
    const ac = new AbortController();
    const r = await leakage(engine, LeakageParams.parse({ suite: SUITE, modes: ['diffusion'], guidance: [1], limit: 4, generation: { maxTokens: 2 } }), {
      signal: ac.signal,
      emit: (e) => e.type === 'eval-progress' && e.done >= 4 && ac.abort(),
    });
    expect(r.complete).toBe(false);
    expect(r.evaluated).toBeGreaterThanOrEqual(1);
    expect(r.evaluated).toBeLessThan(4);
    expect(r.rows[0].modes.diffusion.matched.accuracy.n).toBe(r.evaluated);
  });

  it('rejects unknown modes, unknown suites and identical prompts', async () => {
    await expect(leakage(engine, LeakageParams.parse({ suite: SUITE, modes: ['nope'] }))).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    await expect(leakage(engine, LeakageParams.parse({ suite: 'no-such-suite' }))).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    // The first two items ask the same question: no mismatched prompt in the qa task.
    await expect(leakage(engine, LeakageParams.parse({ suite: SUITE, limit: 2 }))).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
  });
});

describe('leakage through the engine process', () => {
  let client: EngineClient;
  beforeAll(async () => {
    client = await EngineClient.start({ packDir: TINY, provider: 'cpu' });
  });
  afterAll(async () => client?.dispose());

  it('is a contract method with eval-progress events', async () => {
    const seen: string[] = [];
    // The first two items share their question but not their caption: the caption task.
    const r = await client.call(
      'leakage',
      { suite: SUITE, modes: ['diffusion'], guidance: [1.5], task: 'caption', limit: 2, generation: { maxTokens: 2 } },
      { onEvent: (e) => seen.push(e.type) },
    );
    expect(r).toMatchObject({ format: 'twinlens-leakage', task: 'caption', complete: true, evaluated: 2, modes: ['diffusion'], guidance: [1.5] });
    expect(r.items![0].mismatchedPrompt).toBe(r.items![1].prompt);
    expect(seen).toContain('eval-progress');
  });
});
