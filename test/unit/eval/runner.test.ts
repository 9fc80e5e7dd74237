/**
 * The evaluation loop on a scripted `ask` (no engine): results files that a
 * stopped run resumes (also after a torn last line), refusal to resume a
 * different run, shards that merge into the single-run summary, sweeps that
 * ask CLIP-only modes once per item, and the leakage probe's derangement and
 * report on a model that echoes its prompt.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { AskParams, AskResult, ModeAnswer } from '../../../src/shared/contract.js';
import {
  type AskFn,
  comparable,
  leakageReport,
  loadSuite,
  mergeResults,
  mismatchPartners,
  readResults,
  runEval,
  runLeakage,
  summarize,
} from '../../../src/engine/eval/index.js';
import { FIXTURES } from '../../helpers/fixtures.js';

const suite = loadSuite(path.join(FIXTURES, 'suites', 'tiny-shapes.jsonl'));
const PACK = { name: 'fake', hash: 'f'.repeat(64) };
const MODES = ['clip', 'diffusion'];
const INPUTS = { clip: ['clip'], diffusion: ['diffusion'] };
const tmps: string[] = [];
function tmp(): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'twinlens-runner-'));
  tmps.push(d);
  return d;
}
afterAll(() => tmps.forEach((d) => fs.rmSync(d, { recursive: true, force: true })));

/** CLIP answers right on sample.png only; diffusion answers right when t ≤ 50; an echo mode repeats the SD prompt. */
function scripted(): { ask: AskFn; calls: AskParams[] } {
  const calls: AskParams[] = [];
  const ask: AskFn = async (p, { signal }) => {
    calls.push(p);
    const onImage = suite.items.filter((i) => 'path' in p.image && i.image === p.image.path);
    const item = onImage.find((i) => i.question === p.question) ?? onImage[0];
    const t = p.diffusion?.t ?? 50;
    const prompt = p.diffusion?.promptSource === 'empty' ? '' : p.diffusion?.promptSource === 'custom' ? p.diffusion.customPrompt! : p.question;
    const answers: Record<string, ModeAnswer> = {};
    for (const m of p.modes as string[]) {
      const text =
        m === 'clip' ? (item.image.endsWith('sample.png') ? item.answer : 'purple') : m === 'echo' ? prompt || 'nothing' : t <= 50 ? item.answer : 'unsure';
      answers[m] = { mode: m, text, tokens: 3, ms: 1, stop: signal?.aborted ? 'cancelled' : 'eos' };
    }
    return {
      imageHash: `hash-${path.basename(item.image)}`,
      question: p.question,
      answers,
      settings: {
        t,
        guidance: p.diffusion?.guidance ?? 4,
        tap: 'T',
        promptSource: 'question',
        prompt,
        seed: 0,
        ensemble: 1,
        maxTokens: 8,
        temperature: 0,
        topP: 1,
        sampleSeed: 0,
      },
      providers: {},
    } satisfies AskResult;
  };
  return { ask, calls };
}

describe('runEval', () => {
  const single = async () => {
    const { ask } = scripted();
    const run = await runEval(ask, suite, { modes: MODES, modeInputs: INPUTS, pack: PACK });
    return summarize(run.header, run.records);
  };

  it('scores every item and mode', async () => {
    const s = await single();
    expect(s).toMatchObject({ complete: true, missing: 0, evaluated: 8 });
    // CLIP right on the four sample.png items; "purple" is wrong elsewhere.
    expect(s.results[0].modes.clip).toMatchObject({ n: 8, correct: 4, pairs: { n: 3, correct: 0 } });
    expect(s.results[0].modes.diffusion).toMatchObject({ n: 8, correct: 8, pairs: { n: 3, correct: 3 } });
    expect(Object.keys(s.results[0].modes.clip.categories)).toEqual(['colour', 'count', 'existence', 'position']);
    const run = await runEval(scripted().ask, suite, { modes: MODES, pack: PACK });
    // targets: items 0, 3, 6 small (colour-a, count-b, exists-a: clip right on 0 and 6)
    expect(summarize(run.header, run.records, { by: ['target'] }).results[0].modes.clip.by).toMatchObject({
      target: { small: { n: 3, correct: 2 }, large: { n: 5, correct: 2 } },
    });
    expect(s.results[0].modes.clip.by).toBeUndefined();
    expect(s.items![0]).toMatchObject({ id: 'colour-a', image: '../images/sample.png', answers: { clip: { text: 'red', correct: true, rule: 'exact' } } });
  });

  it('stops on abort, resumes from the results file (torn tail too), and matches one run', async () => {
    const file = path.join(tmp(), 'r.jsonl');
    const ac = new AbortController();
    const first = scripted();
    let n = 0;
    const stopped = await runEval(first.ask, suite, {
      modes: MODES,
      pack: PACK,
      resultsFile: file,
      signal: ac.signal,
      onRecord: () => ++n === 3 && ac.abort(),
    });
    expect(stopped.complete).toBe(false);
    expect(readResults(file).records).toHaveLength(3);
    fs.appendFileSync(file, '{"type":"item","setting":"def'); // killed mid-write
    const second = scripted();
    const progress: number[] = [];
    const resumed = await runEval(second.ask, suite, { modes: MODES, pack: PACK, resultsFile: file, onProgress: (p) => progress.push(p.done) });
    expect(resumed).toMatchObject({ complete: true, resumed: 3 });
    expect(second.calls).toHaveLength(5);
    expect(progress[0]).toBe(3);
    expect(progress.at(-1)).toBe(8);
    expect(comparable(summarize(resumed.header, resumed.records))).toEqual(comparable(await single()));
    expect(readResults(file).records).toHaveLength(8);
  });

  it('refuses to resume a results file of a different run', async () => {
    const file = path.join(tmp(), 'r.jsonl');
    await runEval(scripted().ask, suite, { modes: MODES, pack: PACK, resultsFile: file, limit: 2 });
    await expect(runEval(scripted().ask, suite, { modes: MODES, pack: PACK, resultsFile: file, limit: 2, diffusion: { t: 10 } })).rejects.toThrow(
      /holds results of a different run \(diffusion: \{\} vs \{"t":10\}\)/,
    );
    const again = await runEval(scripted().ask, suite, { modes: MODES, pack: PACK, resultsFile: file, limit: 2, diffusion: { t: 10 }, fresh: true });
    expect(again.records).toHaveLength(2);
  });

  it('splits into shards by item index that merge into the single-run summary', async () => {
    const d = tmp();
    const files = [1, 2].map((i) => path.join(d, `s${i}.jsonl`));
    for (const [i, f] of files.entries()) {
      const r = await runEval(scripted().ask, suite, { modes: MODES, pack: PACK, resultsFile: f, shard: { index: i + 1, count: 2 } });
      expect(r.records.map((x) => x.index)).toEqual(i === 0 ? [0, 2, 4, 6] : [1, 3, 5, 7]);
      expect(summarize(r.header, r.records)).toMatchObject({ complete: true, evaluated: 4 });
    }
    const merged = mergeResults(files.reverse());
    expect(merged.shardsSeen).toEqual([1, 2]);
    const s = summarize(merged.header, merged.records, { shards: merged.shardsSeen });
    expect(s.shards).toEqual([1, 2]);
    expect(comparable(s)).toEqual(comparable(await single()));
    // A missing shard shows as incomplete.
    expect(summarize(mergeResults([files[0]]).header, mergeResults([files[0]]).records)).toMatchObject({ complete: false, missing: 4 });
  });

  it('sweeps a setting, asking modes without diffusion once per item', async () => {
    const { ask, calls } = scripted();
    const run = await runEval(ask, suite, { modes: MODES, modeInputs: INPUTS, pack: PACK, sweep: { key: 't', values: [10, 250] } });
    expect(calls).toHaveLength(16);
    expect(calls.filter((c) => (c.modes as string[]).includes('clip'))).toHaveLength(8);
    expect(calls[1]).toMatchObject({ modes: ['diffusion'], diffusion: { t: 250 } });
    const s = summarize(run.header, run.records);
    expect(s.results.map((r) => [r.setting, r.modes.clip.correct, r.modes.diffusion.correct])).toEqual([
      ['t=10', 4, 8],
      ['t=250', 4, 0],
    ]);
    expect(run.records.find((r) => r.setting === 't=250')!.answers.clip.reused).toBe(true);
    await expect(runEval(ask, suite, { modes: MODES, pack: PACK, diffusion: { t: 5 }, sweep: { key: 't', values: [10] } })).rejects.toThrow(/conflicts/);
  });
});

describe('leakage probe', () => {
  it('pairs each item with a different prompt, deterministically', () => {
    const questions = suite.items.map((i) => i.question);
    const p = mismatchPartners(suite.items, questions);
    expect(p).toEqual(mismatchPartners(suite.items, questions));
    p.forEach((j, i) => {
      expect(j).not.toBe(i);
      expect(suite.items[j].question).not.toBe(suite.items[i].question);
      expect(suite.items[j].image).not.toBe(suite.items[i].image);
    });
    expect(() => mismatchPartners(suite.items.slice(0, 2), questions.slice(0, 2))).toThrow(/no mismatched prompt/);
  });

  it('runs matched / empty / mismatched per guidance and reports an echoing model as leaking', async () => {
    const { ask, calls } = scripted();
    const run = await runLeakage(ask, suite, { modes: ['echo', 'diffusion'], guidance: [1, 4], limit: 4 });
    expect(run.complete).toBe(true);
    expect(calls).toHaveLength(4 * 5);
    expect(calls.slice(0, 5).map((c) => [c.diffusion?.promptSource, c.diffusion?.guidance])).toEqual([
      ['empty', 1],
      ['question', 1],
      ['custom', 1],
      ['question', 4],
      ['custom', 4],
    ]);
    const r = leakageReport({
      run,
      suite: { name: suite.name, hash: suite.hash, items: 8 },
      pack: PACK,
      modes: ['echo', 'diffusion'],
      guidance: [1, 4],
      mismatchFrom: 'question',
    });
    expect(r.rows.map((x) => x.guidance)).toEqual([1, 4]);
    const echo = r.rows[1].modes.echo;
    expect(echo.leakage.f1).toBe(1);
    expect(echo.leakage.controlF1).toBe(0);
    expect(echo.leakage.cider).toBeGreaterThan(echo.leakage.controlCider);
    const d = r.rows[0].modes.diffusion;
    expect(d.leakage.f1).toBeLessThan(0.5);
    expect(d.matched.accuracy).toMatchObject({ n: 4, correct: 4 });
    expect(d.gap).toEqual({ accuracy: 0, f1: 0, cider: 0 });
    expect(r.items![0]).toMatchObject({ id: 'colour-a', partner: 'count-b', mismatchedPrompt: 'how many squares are there' }); // count-a (i + N/2) shares the image
  });
});

describe('leakage caption task', () => {
  it('asks for a caption with the own / empty / partner caption as SD prompt and scores against captions', async () => {
    const { ask, calls } = scripted();
    const run = await runLeakage(ask, suite, { modes: ['echo'], guidance: [4], task: 'caption', limit: 4 });
    expect(calls.slice(0, 3).map((c) => [c.question, c.diffusion?.promptSource, c.diffusion?.customPrompt])).toEqual([
      ['describe the image', 'empty', undefined],
      ['describe the image', 'custom', 'a red circle and two squares'],
      ['describe the image', 'custom', 'a blue circle and one square'],
    ]);
    const r = leakageReport({ run, suite: { name: suite.name, hash: suite.hash, items: 8 }, pack: PACK, modes: ['echo'], guidance: [4], task: 'caption' });
    expect(r).toMatchObject({ task: 'caption', captionQuestion: 'describe the image' });
    const c = r.rows[0].modes.echo;
    // The echo model repeats its SD prompt: perfect on its own caption (a), fully leaking under (c).
    expect(c.matched.f1).toBe(1);
    expect(c.leakage.f1).toBe(1);
    expect(c.towardPartnerAnswer.f1).toBe(1);
    expect(c.gap.f1).toBe(1); // the empty prompt echoes "nothing"
    const bare = { ...suite, items: suite.items.map(({ caption: _c, ...rest }) => rest) };
    await expect(runLeakage(ask, bare, { modes: ['echo'], guidance: [4], task: 'caption' })).rejects.toThrow(/needs a "caption" on every item/);
  });
});

describe('parseSweep', () => {
  it('parses each sweepable setting and rejects bad values', async () => {
    const { parseSweep } = await import('../../../src/engine/eval/sweep.js');
    expect(parseSweep('t=10,50,100,250,500')).toEqual({ key: 't', values: [10, 50, 100, 250, 500] });
    expect(parseSweep('s=0,1.5,4')).toEqual({ key: 'guidance', values: [0, 1.5, 4] });
    expect(parseSweep('tap=U-L1-R1-B0-Cross-Q, U-L2-R2-Res-Out')).toEqual({ key: 'tap', values: ['U-L1-R1-B0-Cross-Q', 'U-L2-R2-Res-Out'] });
    expect(parseSweep('prompt=question,empty')).toEqual({ key: 'prompt', values: ['question', 'empty'] });
    expect(() => parseSweep('t=10,x')).toThrow(/not a timestep/);
    expect(() => parseSweep('t=10,10')).toThrow(/listed twice/);
    expect(() => parseSweep('lr=1')).toThrow(/unknown setting "lr"/);
    expect(() => parseSweep('t')).toThrow(/key=v1,v2/);
  });
});
