/**
 * The shipped mini-world pack answers the README's sample questions as
 * assets/samples/samples.json records (training/twinlens_train/mini_world/samples.py measured them
 * through `twinlens ask` when the pack was built). A pack, engine or
 * tokenizer change that alters what a new user sees first fails here.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EngineClient } from '../../src/host/engine-client.js';
import { ROOT } from '../helpers/fixtures.js';

interface Sample {
  image: string;
  question: string;
  expected: string;
  answers: Record<string, string>;
  correct_modes: string[];
}

const PACK = path.join(ROOT, 'models', 'mini-world');
const samples = JSON.parse(fs.readFileSync(path.join(ROOT, 'assets', 'samples', 'samples.json'), 'utf8')) as { pack: string; samples: Sample[] };
let client: EngineClient;

beforeAll(async () => {
  client = await EngineClient.start({ packDir: PACK, provider: 'cpu' });
});
afterAll(async () => {
  await client?.dispose();
});

describe('the built-in mini-world pack on the sample images', () => {
  it('records every sample with the modes that answered it correctly', () => {
    expect(samples.pack).toBe('models/mini-world');
    expect(samples.samples.length).toBeGreaterThanOrEqual(5);
    for (const s of samples.samples) {
      const right = Object.entries(s.answers)
        .filter(([, a]) => a.toLowerCase().replace(/\.$/, '') === s.expected)
        .map(([m]) => m);
      expect(s.correct_modes.sort(), s.image).toEqual(right.sort());
    }
  });

  for (const s of samples.samples) {
    it(`${s.image}: "${s.question}"`, async () => {
      const r = await client.call('ask', {
        image: { path: path.join(ROOT, 'assets', 'samples', s.image) },
        question: s.question,
        modes: Object.keys(s.answers),
      });
      const got = Object.fromEntries(Object.entries(r.answers).map(([m, a]) => [m, a.text.trim()]));
      expect(got).toEqual(s.answers);
    });
  }
});
