/**
 * The evaluation loop on the real engine: the fixture suite (8 items, pairs,
 * categories) on the tiny pack through EngineClient — one run; a run stopped
 * after 3 items and resumed from its results file; two shards merged — all
 * give the same per-item answers and summary. Then a sweep and the leakage
 * probe produce their report structure (random weights: no claim on values).
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type AskFn, comparable, leakageReport, loadSuite, mergeResults, runEval, runLeakage, summarize } from '../../src/engine/eval/index.js';
import { EngineClient } from '../../src/host/engine-client.js';
import { FIXTURES, TINY } from '../helpers/fixtures.js';

const suite = loadSuite(path.join(FIXTURES, 'suites', 'tiny-shapes.jsonl'));
const PACK = { name: 'tiny', hash: 'test' };
const MODES = ['clip', 'diffusion', 'fused'];
const GEN = { maxTokens: 6 };
let client: EngineClient;
let ask: AskFn;
let dir: string;

beforeAll(async () => {
  client = await EngineClient.start({ packDir: TINY, provider: 'cpu' });
  ask = (p, o) => client.call('ask', p, o);
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'twinlens-eval-'));
});
afterAll(async () => {
  await client?.dispose();
  fs.rmSync(dir, { recursive: true, force: true });
});

describe('eval on the tiny pack', () => {
  it('one run, a stopped-and-resumed run and two merged shards agree item by item', async () => {
    const one = await runEval(ask, suite, { modes: MODES, generation: GEN, pack: PACK, resultsFile: path.join(dir, 'one.jsonl') });
    expect(one.complete).toBe(true);
    const reference = summarize(one.header, one.records);
    expect(reference.results[0].modes.clip.n).toBe(8);
    expect(reference.results[0].modes.fused.pairs?.n).toBe(3);
    expect(Object.keys(reference.results[0].modes.diffusion.categories)).toHaveLength(4);
    for (const it of reference.items!) for (const m of MODES) expect(it.answers[m].text.length, `${it.id} ${m}`).toBeGreaterThan(0);

    const resumable = path.join(dir, 'resumed.jsonl');
    const ac = new AbortController();
    let k = 0;
    const stopped = await runEval(ask, suite, {
      modes: MODES,
      generation: GEN,
      pack: PACK,
      resultsFile: resumable,
      signal: ac.signal,
      onRecord: () => ++k === 3 && ac.abort(),
    });
    expect(stopped).toMatchObject({ complete: false });
    expect(stopped.records).toHaveLength(3);
    const resumed = await runEval(ask, suite, { modes: MODES, generation: GEN, pack: PACK, resultsFile: resumable });
    expect(resumed).toMatchObject({ complete: true, resumed: 3 });
    expect(comparable(summarize(resumed.header, resumed.records))).toEqual(comparable(reference));

    const shards = [1, 2].map((i) => path.join(dir, `shard${i}.jsonl`));
    for (const [i, f] of shards.entries())
      await runEval(ask, suite, { modes: MODES, generation: GEN, pack: PACK, resultsFile: f, shard: { index: i + 1, count: 2 } });
    const merged = mergeResults(shards);
    expect(comparable(summarize(merged.header, merged.records))).toEqual(comparable(reference));
  });

  it('sweeps t, asking CLIP once per item', async () => {
    const info = await client.call('packInfo', {});
    const modeInputs = Object.fromEntries(info.modes.map((m) => [m.id, [...m.inputs]]));
    const run = await runEval(ask, suite, {
      modes: ['clip', 'diffusion'],
      modeInputs,
      generation: GEN,
      pack: PACK,
      limit: 4,
      sweep: { key: 't', values: [10, 250] },
    });
    const s = summarize(run.header, run.records);
    expect(s.results.map((r) => r.setting)).toEqual(['t=10', 't=250']);
    expect(s.results[0].modes.clip).toEqual(s.results[1].modes.clip);
    const late = run.records.filter((r) => r.setting === 't=250');
    expect(late.every((r) => r.answers.clip.reused && r.used?.t === 250)).toBe(true);
  });

  it('runs the leakage probe and reports per guidance and mode', async () => {
    const run = await runLeakage(ask, suite, { modes: ['diffusion', 'fused'], guidance: [1, 4], generation: GEN, limit: 4 });
    expect(run.complete).toBe(true);
    const r = leakageReport({
      run,
      suite: { name: suite.name, hash: suite.hash, items: suite.items.length },
      pack: PACK,
      modes: ['diffusion', 'fused'],
      guidance: [1, 4],
      mismatchFrom: 'question',
    });
    expect(r).toMatchObject({ format: 'twinlens-leakage', evaluated: 4, complete: true, guidance: [1, 4] });
    for (const row of r.rows) {
      for (const m of ['diffusion', 'fused']) {
        const c = row.modes[m];
        expect(c.matched.accuracy.n).toBe(4);
        for (const x of [c.leakage.cider, c.leakage.f1, c.leakage.controlCider, c.gap.f1, c.towardPartnerAnswer.rate]) expect(Number.isFinite(x)).toBe(true);
        expect(c.errors).toBe(0);
      }
    }
    const item = r.items![0];
    expect(Object.keys(item.outputs.diffusion.matched)).toEqual(['1', '4']);
    expect(item.outputs.diffusion.empty.length).toBeGreaterThan(0);
    // (b) is the same for every s, so it is one answer; (a) and (c) differ in prompt only.
    expect(item.mismatchedPrompt).not.toBe(item.question);
  });
});
