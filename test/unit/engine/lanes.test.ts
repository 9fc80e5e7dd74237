/**
 * The engine process's two lanes: one job at a time; interactive jobs before
 * background ones; a background job's yield runs the interactive jobs queued
 * meanwhile, so an ask waits for one eval item, not for the eval.
 */
import { describe, expect, it } from 'vitest';
import { Lanes, laneOf } from '../../../src/engine/process/lanes.js';

const tick = () => new Promise((r) => setTimeout(r, 5));

describe('Lanes', () => {
  it('runs an ask queued during an eval at the eval’s next yield, one job at a time', async () => {
    const lanes = new Lanes();
    const log: string[] = [];
    let active = 0;
    const step = async (name: string) => {
      active++;
      expect(active).toBe(1);
      log.push(name);
      await tick();
      active--;
    };
    let evalDone!: () => void;
    const evalFinished = new Promise<void>((r) => (evalDone = r));
    lanes.submit('background', async () => {
      for (let i = 0; i < 3; i++) {
        await lanes.yieldToInteractive();
        await step(`eval item ${i}`);
        if (i === 0) lanes.submit('interactive', () => step('ask'));
      }
      evalDone();
    });
    await evalFinished;
    await lanes.idle();
    expect(log).toEqual(['eval item 0', 'ask', 'eval item 1', 'eval item 2']);
  });

  it('prefers interactive jobs over queued background ones', async () => {
    const lanes = new Lanes();
    const log: string[] = [];
    lanes.submit('interactive', async () => {
      log.push('first');
      await tick();
    });
    lanes.submit('background', async () => void log.push('eval'));
    lanes.submit('interactive', async () => void log.push('ask'));
    await lanes.idle();
    expect(log).toEqual(['first', 'ask', 'eval']);
  });

  it('puts evaluate and leakage in the background lane, and openPack (which replaces the engine) behind them', () => {
    expect(['evaluate', 'leakage', 'openPack', 'ask', 'features', 'visualize'].map(laneOf)).toEqual([
      'background',
      'background',
      'background',
      'interactive',
      'interactive',
      'interactive',
    ]);
  });
});
