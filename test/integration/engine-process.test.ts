/**
 * The engine as the hosts use it: a separate process behind EngineClient,
 * with streamed tokens, cancellation, a crash in the middle of a request and
 * the automatic restart on the same pack.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EngineClient } from '../../src/host/engine-client.js';
import * as path from 'node:path';
import { FIXTURES, SAMPLE, TINY } from '../helpers/fixtures.js';

const SUITE = path.join(FIXTURES, 'suites', 'tiny-shapes.jsonl');

describe('engine process', () => {
  let client: EngineClient;
  beforeAll(async () => {
    client = await EngineClient.start({ packDir: TINY, provider: 'cpu' });
  });
  afterAll(async () => client?.dispose());

  it('answers in three modes with streamed tokens, passing tensors as binary', async () => {
    const tokens: Record<string, string[]> = {};
    const res = await client.call(
      'ask',
      { image: { path: SAMPLE }, question: 'what colour is the circle', generation: { maxTokens: 4 } },
      { onEvent: (e) => e.type === 'token' && (tokens[e.mode] ??= []).push(e.text) },
    );
    expect(Object.keys(res.answers).sort()).toEqual(['clip', 'diffusion', 'fused']);
    for (const a of Object.values(res.answers)) {
      expect(a.text.length).toBeGreaterThan(0);
      expect(tokens[a.mode].join('')).toBe(a.text);
    }
    const f = await client.call('features', { image: { path: SAMPLE }, taps: ['U-L1-R1-B0-Cross-Q'] });
    expect(f.taps[0].data).toBeInstanceOf(Float32Array);
    expect(f.taps[0].data.length).toBe(f.taps[0].height * f.taps[0].width * f.taps[0].channels);
    expect([f.taps[0].height, f.taps[0].width]).toEqual([4, 4]);
  });

  it('answers a question asked during an evaluation after one item, not after the evaluation (lanes)', async () => {
    const order: string[] = [];
    let asked: Promise<unknown> | undefined;
    const evaluation = client
      .call(
        'evaluate',
        // Swept over three t values: 24 items per mode, long enough that "after the evaluation" is seen.
        { suite: SUITE, sweep: 't=10,50,250', generation: { maxTokens: 4 } },
        {
          onEvent: (e) => {
            if (e.type !== 'eval-progress' || asked) return;
            order.push(`eval at ${e.done}/${e.total}`);
            asked = client.call('ask', { image: { path: SAMPLE }, question: 'what colour is the circle', generation: { maxTokens: 4 } }).then((r) => {
              order.push('ask answered');
              return r;
            });
          },
        },
      )
      .then((r) => {
        order.push('eval finished');
        return r;
      });
    const summary = await evaluation;
    await asked;
    expect(order[0]).toMatch(/^eval at \d+\/\d+$/);
    expect(order.slice(1)).toEqual(['ask answered', 'eval finished']);
    expect(summary.complete).toBe(true);
    expect(summary.summary.evaluated).toBeGreaterThan(0);
  });

  it('refuses bad arguments with INVALID_ARGUMENT', async () => {
    await expect(client.call('ask', { image: { path: SAMPLE }, question: '' } as never)).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    await expect(client.call('ask', { image: { path: '/nope.png' }, question: 'x' })).rejects.toMatchObject({ code: 'IMAGE_DECODE_FAILED' });
  });

  it('stops a generation midway and keeps the text so far', async () => {
    const ac = new AbortController();
    let seen = 0;
    const res = await client.call(
      'ask',
      { image: { path: SAMPLE }, question: 'what colour is the circle', modes: ['fused'], generation: { maxTokens: 200 } },
      {
        signal: ac.signal,
        onEvent: (e) => {
          if (e.type === 'token' && ++seen === 2) ac.abort();
        },
      },
    );
    expect(res.answers.fused.stop).toBe('cancelled');
    expect(res.answers.fused.tokens).toBeLessThan(200);
  });

  it('reports a crash to the pending caller and restarts on the same pack', async () => {
    const states: string[] = [];
    const off = client.onState((s) => states.push(s.state));
    const firstPid = client.pid;
    const pending = client.call(
      'ask',
      { image: { path: SAMPLE }, question: 'what colour is the circle', generation: { maxTokens: 200 } },
      {
        onEvent: (e) => {
          if (e.type === 'mode-start') client.killProcess('SIGKILL');
        },
      },
    );
    await expect(pending).rejects.toMatchObject({ code: 'ENGINE_CRASHED' });
    await client.whenReady();
    expect(client.pid).not.toBe(firstPid);
    expect(states).toContain('crashed');
    expect(client.state.restarts).toBeGreaterThanOrEqual(1);
    const info = await client.call('packInfo', {});
    expect(info.name).toBe('tiny');
    off();
  });
});

/** Resolves when the client reaches a state matching `pred`. */
function waitState(c: EngineClient, pred: (s: EngineClient['state']) => boolean): Promise<void> {
  return new Promise((resolve) => {
    if (pred(c.state)) return resolve();
    const off = c.onState((s) => {
      if (pred(s)) {
        off();
        resolve();
      }
    });
  });
}

describe('engine process faults', () => {
  it('gives up after too many crashes in a minute: calls then fail at once instead of waiting forever', async () => {
    const c = await EngineClient.start({ packDir: TINY, provider: 'cpu', maxRestartsPerMinute: 2 });
    try {
      for (let i = 0; i < 3; i++) {
        await c.whenReady().catch(() => undefined);
        const before = c.state.restarts;
        c.killProcess();
        await waitState(c, (s) => s.restarts > before || (s.state === 'crashed' && /down/.test(s.message ?? '')));
      }
      await waitState(c, (s) => s.state === 'crashed');
      expect(c.state.message).toMatch(/crashed 3 times within a minute/);
      const t0 = Date.now();
      await expect(c.call('status', {})).rejects.toMatchObject({ code: 'ENGINE_CRASHED' });
      expect(Date.now() - t0).toBeLessThan(5_000);
      // Reload Engine brings it back.
      await c.restart();
      expect((await c.call('status', {})).pack).toBeTruthy();
    } finally {
      await c.dispose();
    }
  });

  it('a cancel that arrives while the engine restarts cancels the call before it is sent', async () => {
    const c = await EngineClient.start({ packDir: TINY, provider: 'cpu' });
    try {
      c.killProcess();
      await waitState(c, (s) => s.state === 'starting');
      const ac = new AbortController();
      const pending = c.call('ask', { image: { path: SAMPLE }, question: 'what colour is the circle', generation: { maxTokens: 200 } }, { signal: ac.signal });
      ac.abort();
      await expect(pending).rejects.toMatchObject({ code: 'CANCELLED' });
      await c.whenReady();
      expect((await c.call('status', {})).pack).toBeTruthy();
    } finally {
      await c.dispose();
    }
  });

  it('a stuck engine (SIGSTOP) fails the call after the stall timeout and is restarted', async () => {
    const c = await EngineClient.start({ packDir: TINY, provider: 'cpu', stallTimeoutMs: 1500 });
    try {
      const pid = c.pid!;
      process.kill(pid, 'SIGSTOP');
      await expect(c.call('status', {})).rejects.toMatchObject({ code: 'ENGINE_CRASHED', message: expect.stringMatching(/no answer and no progress/) });
      await waitState(c, (s) => s.state === 'ready' && s.pid !== pid);
      expect(c.pid).not.toBe(pid);
      expect((await c.call('status', {})).pack).toBeTruthy();
    } finally {
      await c.dispose();
    }
  });
});
