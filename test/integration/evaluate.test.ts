/**
 * The contract's `evaluate` (the Eval view's run) on the tiny fixture pack:
 * in-process it gives the same summary as the runner the CLI uses, streams
 * progress, returns thumbnails for items where modes disagree, and a stop
 * returns a partial summary; through the engine process it is a contract
 * method like any other (listSuites, estimate too).
 */
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AskParams, EvaluateParams, type EngineEvent } from '../../src/shared/contract.js';
import { Engine } from '../../src/engine/engine.js';
import { evaluate, listSuites } from '../../src/engine/eval/evaluate.js';
import { comparable, loadSuite, runEval, summarize } from '../../src/engine/eval/index.js';
import { EngineClient } from '../../src/host/engine-client.js';
import { FIXTURES, TINY } from '../helpers/fixtures.js';

const SUITE = path.join(FIXTURES, 'suites', 'tiny-shapes.jsonl');

describe('evaluate in the engine', () => {
  let engine: Engine;
  beforeAll(async () => {
    engine = await Engine.open(TINY, { provider: 'cpu' });
  });
  afterAll(() => engine?.dispose());

  it('matches the runner over the same ask, with progress and thumbnails', async () => {
    const events: EngineEvent[] = [];
    const r = await evaluate(engine, EvaluateParams.parse({ suite: SUITE, limit: 3, generation: { maxTokens: 4 } }), { emit: (e) => events.push(e) });
    expect(r.complete).toBe(true);
    expect(r.summary.format).toBe('twinlens-eval');
    expect(r.summary.evaluated).toBe(3);
    expect(r.summary.modes).toEqual(expect.arrayContaining(['clip', 'diffusion', 'fused']));
    expect(events.filter((e) => e.type === 'eval-progress').at(-1)).toMatchObject({ done: 3, total: 3 });
    expect(events.some((e) => e.type === 'progress' && e.stage === 'evaluate')).toBe(true);
    for (const [img, png] of Object.entries(r.thumbnails)) {
      expect(r.summary.items!.some((it) => it.image === img)).toBe(true);
      expect(Buffer.from(png.subarray(1, 4)).toString()).toBe('PNG');
    }
    const info = engine.packInfo();
    const direct = await runEval((p, o) => engine.ask(AskParams.parse(p), { signal: o.signal }), loadSuite(SUITE), {
      modes: r.summary.modes,
      modeInputs: Object.fromEntries(info.modes.map((m) => [m.id, [...m.inputs]])),
      generation: { maxTokens: 4 },
      limit: 3,
      pack: r.summary.pack,
    });
    expect(comparable(r.summary as never)).toEqual(comparable(summarize(direct.header, direct.records)));
  });

  it('stops on abort and returns the partial summary', async () => {
    const ac = new AbortController();
    const r = await evaluate(engine, EvaluateParams.parse({ suite: SUITE, modes: ['clip'], generation: { maxTokens: 2 } }), {
      signal: ac.signal,
      emit: (e) => e.type === 'eval-progress' && e.done >= 1 && ac.abort(),
    });
    expect(r.complete).toBe(false);
    expect(r.summary.complete).toBe(false);
    expect(r.summary.evaluated).toBeGreaterThanOrEqual(1);
    expect(r.summary.evaluated).toBeLessThan(8);

    // The same evaluation with resume: the journal's finished items are reused, the rest are run.
    const again = await evaluate(engine, EvaluateParams.parse({ suite: SUITE, modes: ['clip'], generation: { maxTokens: 2 }, resume: true }));
    expect(again.resumed).toBe(r.summary.evaluated);
    expect(again.complete).toBe(true);
    expect(again.summary.evaluated).toBe(8);
    // Same answers as a run from scratch (resume: false starts the journal over).
    const fresh = await evaluate(engine, EvaluateParams.parse({ suite: SUITE, modes: ['clip'], generation: { maxTokens: 2 } }));
    expect(fresh.resumed).toBe(0);
    expect(comparable(again.summary)).toEqual(comparable(fresh.summary));
    // Another setting is another journal: nothing to resume.
    const other = await evaluate(engine, EvaluateParams.parse({ suite: SUITE, modes: ['clip'], generation: { maxTokens: 3 }, resume: true }));
    expect(other.resumed).toBe(0);
  });

  it('sweeps and rejects unknown suites and modes', async () => {
    const r = await evaluate(
      engine,
      EvaluateParams.parse({ suite: SUITE, modes: ['clip', 'diffusion'], limit: 1, sweep: 't=10,250', generation: { maxTokens: 2 } }),
    );
    expect(r.summary.results.map((x) => x.setting)).toEqual(['t=10', 't=250']);
    await expect(evaluate(engine, EvaluateParams.parse({ suite: 'no-such-suite' }))).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    await expect(evaluate(engine, EvaluateParams.parse({ suite: SUITE, modes: ['nope'] }))).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    expect(listSuites(engine.packInfo()).builtIn).toEqual([]);
  });

  it('lists the built-in suites of the mini-world pack, not its folder of suite images', () => {
    const dir = path.join(FIXTURES, '..', '..', 'models', 'mini-world');
    const list = listSuites({ ...engine.packInfo(), dir });
    expect(list.builtIn.map((s) => s.name)).toEqual(['mini-world-all', 'mini-world-pairs', 'mini-world-test']);
    expect(list.builtIn.every((s) => s.path.endsWith('.jsonl'))).toBe(true);
  });
});

describe('evaluate through the engine process', () => {
  let client: EngineClient;
  beforeAll(async () => {
    client = await EngineClient.start({ packDir: TINY, provider: 'cpu' });
  });
  afterAll(async () => client?.dispose());

  it('runs a suite, lists suites and estimates memory', async () => {
    const seen: string[] = [];
    const r = await client.call('evaluate', { suite: SUITE, modes: ['clip'], limit: 2, generation: { maxTokens: 2 } }, { onEvent: (e) => seen.push(e.type) });
    expect(r.summary.evaluated).toBe(2);
    expect(seen).toContain('eval-progress');
    expect(await client.call('listSuites', {})).toMatchObject({ builtIn: [] });
    const est = await client.call('estimate', {});
    expect(est.pack).toMatch(/tiny$/);
    expect(est.components.length).toBeGreaterThan(0);
    expect(est.totalBytes).toBeGreaterThan(0);
  });
});
