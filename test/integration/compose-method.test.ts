/**
 * The `composePack` contract method (the Models view's composer) on the
 * family fixtures: SD + CLIP + LLM composed into a temporary folder, validated,
 * and reported as checks and answer modes; SD + CLIP alone through the engine
 * process (the method as the UI calls it); bad input rejected with a hint.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { composePackMethod } from '../../src/engine/importers/compose-method.js';
import { EngineClient } from '../../src/host/engine-client.js';
import { CONTRACT } from '../../src/shared/contract.js';
import { TwinLensError } from '../../src/shared/errors.js';
import { FIXTURES, TINY } from '../helpers/fixtures.js';

const FAM = path.join(FIXTURES, 'families');
const WORK = fs.mkdtempSync(path.join(os.tmpdir(), 'twinlens-compose-'));
afterAll(() => fs.rmSync(WORK, { recursive: true, force: true }));

describe('composePack', () => {
  it('composes SD + CLIP + LLM into a usable pack and lists the answer modes with reasons', async () => {
    const out = path.join(WORK, 'sd-clip-llm');
    const params = CONTRACT.composePack.parse({
      sd: path.join(FAM, 'sd15-diffusers'),
      clip: path.join(FAM, 'clip-vit-transformersjs'),
      llm: path.join(FAM, 'llava-qwen-transformersjs'),
      out,
      name: 'composed',
      copy: true,
    });
    const r = await composePackMethod(params);
    expect(r.dir).toBe(path.resolve(out));
    expect(r.name).toBe('composed');
    expect(fs.existsSync(path.join(out, 'pack.json'))).toBe(true);
    expect(r.checks.filter((c) => c.status === 'error')).toEqual([]);
    expect(r.checks.length).toBeGreaterThan(1);
    expect(r.usable).toBe(true);
    // Without projectors there is nothing trained to answer with: no mode, and the reason says what is missing.
    for (const m of r.modes) if (!m.available) expect(m.reason).toBeTruthy();
    const caps = Object.fromEntries(r.capabilities.map((c) => [c.id, c.available]));
    expect(caps).toMatchObject({ 'feature-maps': true, 'cross-attention': true, correspondence: true, 'clip-features': true });
    if (r.modes.length === 0)
      expect(r.capabilities.find((c) => c.id === 'answers')).toMatchObject({ available: false, reason: expect.stringMatching(/projectors/) });
    expect(r.capabilities.some((c) => c.id.startsWith('mode:'))).toBe(false);
    // The result crosses process boundaries as structured clone / JSON.
    expect(JSON.parse(JSON.stringify(r))).toEqual(r);
  });

  it('adds the answer modes when projectors are given', async () => {
    const r = await composePackMethod(
      CONTRACT.composePack.parse({
        sd: path.join(FAM, 'sd15-diffusers'),
        clip: path.join(FAM, 'clip-vit-transformersjs'),
        llm: path.join(FAM, 'llava-qwen-transformersjs'),
        projectors: path.join(FAM, 'projectors'),
        out: path.join(WORK, 'full'),
        copy: true,
      }),
    );
    expect(r.usable).toBe(true);
    const modes = Object.fromEntries(r.modes.map((m) => [m.id, m.available]));
    expect(modes).toMatchObject({ clip: true, diffusion: true, fused: true });
  });

  it('rejects nothing to compose with a hint, and a missing folder with a TwinLensError', async () => {
    await expect(composePackMethod({ out: path.join(WORK, 'empty') })).rejects.toMatchObject({
      code: 'INVALID_ARGUMENT',
      hint: expect.stringMatching(/SD, CLIP or LLM/),
    });
    const err = await composePackMethod({ sd: path.join(WORK, 'no-such-folder'), out: path.join(WORK, 'bad') }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TwinLensError);
    expect(CONTRACT.composePack.safeParse({ sd: 'x' }).success).toBe(false);
  });

  it('composes SD + CLIP through the engine process', async () => {
    const client = await EngineClient.start({ packDir: TINY, provider: 'cpu' });
    try {
      const r = await client.call('composePack', {
        sd: path.join(FAM, 'sd21-optimum'),
        clip: path.join(FAM, 'clip-vit-transformersjs'),
        out: path.join(WORK, 'sd-clip'),
        copy: true,
      });
      expect(r.usable).toBe(true);
      expect(r.checks.every((c) => c.status !== 'error')).toBe(true);
      expect(r.capabilities.find((c) => c.id === 'feature-maps')?.available).toBe(true);
      for (const m of r.modes) expect(m.available ? true : !!m.reason).toBe(true);
    } finally {
      await client.dispose();
    }
  }, 60_000);
});
