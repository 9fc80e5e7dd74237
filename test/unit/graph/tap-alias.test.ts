/**
 * The study's alias grammar → diffusers module paths, the study taps, and
 * the list of aliases a graph supports (layer browser).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { TwinLensError } from '../../../src/shared/errors.js';
import { readGraphIndex } from '../../../src/engine/graph/onnx-index.js';
import { STUDY_TAPS, listGraphTaps, parseTapAlias } from '../../../src/engine/graph/tap-alias.js';
import { writeTinyUnet } from './tiny-unet.js';

const dir = mkdtempSync(join(tmpdir(), 'twinlens-alias-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('parseTapAlias', () => {
  it.each([
    ['U-L1-R1-B0-Cross-Q', 'up_blocks.1.attentions.1.transformer_blocks.0.attn2.to_q', 'cross-q'],
    ['D-L2-R0-B0-Cross-Q', 'down_blocks.2.attentions.0.transformer_blocks.0.attn2.to_q', 'cross-q'],
    ['U-L1-R1-B0-Cross-K', 'up_blocks.1.attentions.1.transformer_blocks.0.attn2.to_k', 'cross-k'],
    ['U-L1-R1-B0-Cross-V', 'up_blocks.1.attentions.1.transformer_blocks.0.attn2.to_v', 'cross-v'],
    ['U-L1-R1-B0-Cross-Out', 'up_blocks.1.attentions.1.transformer_blocks.0.attn2.to_out.0', 'cross-out'],
    ['U-L3-R2-B0-Self-Q', 'up_blocks.3.attentions.2.transformer_blocks.0.attn1.to_q', 'self-q'],
    ['D-L0-R1-B0-Self-K', 'down_blocks.0.attentions.1.transformer_blocks.0.attn1.to_k', 'self-k'],
    ['D-L1-R0-B1-Self-V', 'down_blocks.1.attentions.0.transformer_blocks.1.attn1.to_v', 'self-v'],
    ['U-L1-R1-B0-Self-Out', 'up_blocks.1.attentions.1.transformer_blocks.0.attn1.to_out.0', 'self-out'],
    ['U-L1-R1-B0-Out', 'up_blocks.1.attentions.1.transformer_blocks.0', 'block-out'],
    ['U-L2-R2-Res-Out', 'up_blocks.2.resnets.2', 'res-out'],
    ['U-L1-R1-Attn-Out', 'up_blocks.1.attentions.1', 'attn-out'],
    ['M-R0-B0-Cross-Q', 'mid_block.attentions.0.transformer_blocks.0.attn2.to_q', 'cross-q'],
    ['M-R1-Res-Out', 'mid_block.resnets.1', 'res-out'],
    ['M-R0-Attn-Out', 'mid_block.attentions.0', 'attn-out'],
    ['CLIP-L22', 'vision_model.encoder.layers.22', 'clip-layer'],
  ])('%s → %s', (alias, modulePath, kind) => {
    const parsed = parseTapAlias(alias);
    expect(parsed?.modulePath).toBe(modulePath);
    expect(parsed?.kind).toBe(kind);
    expect(parsed?.alias).toBe(alias);
  });

  it('accepts any case and canonicalises the spelling', () => {
    const p = parseTapAlias(' u-l01-r1-b0-cross-q ');
    expect(p?.alias).toBe('U-L1-R1-B0-Cross-Q');
    expect(p).toMatchObject({ block: 'up', level: 1, index: 1, transformer: 0 });
    expect(parseTapAlias('m-r1-res-out')?.alias).toBe('M-R1-Res-Out');
    expect(parseTapAlias('clip-l3')?.alias).toBe('CLIP-L3');
  });

  it('maps CLIP-penultimate and CLIP-last through the layer count', () => {
    expect(parseTapAlias('CLIP-penultimate', { clipNumLayers: 24 })?.modulePath).toBe('vision_model.encoder.layers.22');
    expect(parseTapAlias('CLIP-penultimate', { clipNumLayers: 24 })?.alias).toBe('CLIP-L22');
    expect(parseTapAlias('CLIP-last', { clipNumLayers: 12 })?.modulePath).toBe('vision_model.encoder.layers.11');
    const err = (() => {
      try {
        parseTapAlias('CLIP-penultimate');
      } catch (e) {
        return e as TwinLensError;
      }
    })();
    expect(err).toBeInstanceOf(TwinLensError);
    expect(err?.code).toBe('INVALID_ARGUMENT');
    expect(err?.hint).toMatch(/clip\.numLayers/);
  });

  it('rejects strings outside the grammar', () => {
    for (const s of ['U-L1-R1-B0-Cros-Q', 'U-L1-B0-Cross-Q', 'M-L1-R0-Res-Out', 'X-L1-R1-Res-Out', 'up_blocks.1', 'CLIP-Lx', '']) {
      expect(parseTapAlias(s), s).toBeUndefined();
    }
  });
});

describe('study taps', () => {
  it('lists the six layers the study reports, each in the grammar', () => {
    expect(STUDY_TAPS).toEqual(['U-L1-R1-B0-Cross-Q', 'D-L2-R0-B0-Cross-Q', 'U-L1-R1-B0-Out', 'U-L1-R2-B0-Cross-Q', 'U-L2-R1-B0-Cross-Q', 'U-L2-R2-Res-Out']);
    for (const alias of STUDY_TAPS) expect(parseTapAlias(alias)).toBeDefined();
  });
});

describe('listGraphTaps', () => {
  it('enumerates every alias whose module exists in the graph, in UNet order', async () => {
    const index = await readGraphIndex(writeTinyUnet(join(dir, 'a')).path);
    const taps = listGraphTaps(index);
    const aliases = taps.map((t) => t.alias);
    for (const s of STUDY_TAPS) expect(aliases).toContain(s);
    // Everything the tiny graph has for one attention module, in order.
    const block = aliases.filter((a) => a.startsWith('D-L2-R0'));
    expect(block).toEqual([
      'D-L2-R0-Res-Out',
      'D-L2-R0-B0-Self-Q',
      'D-L2-R0-B0-Self-K',
      'D-L2-R0-B0-Self-V',
      'D-L2-R0-B0-Self-Out',
      'D-L2-R0-B0-Cross-Q',
      'D-L2-R0-B0-Cross-K',
      'D-L2-R0-B0-Cross-V',
      'D-L2-R0-B0-Cross-Out',
      'D-L2-R0-B0-Out',
      'D-L2-R0-Attn-Out',
    ]);
    // Down before mid before up; levels ascending.
    const heads = [
      ...new Set(
        aliases.map((a) =>
          a
            .split('-')
            .slice(0, a.startsWith('M') ? 1 : 2)
            .join('-'),
        ),
      ),
    ];
    expect(heads).toEqual(['D-L2', 'M', 'U-L1', 'U-L2']);
    expect(aliases).toContain('M-R1-Res-Out');
    expect(aliases).not.toContain('U-L0-R0-Res-Out');
    expect(aliases.length).toBe(new Set(aliases).size);

    const best = taps.find((t) => t.alias === 'U-L1-R1-B0-Cross-Q');
    expect(best).toMatchObject({ study: true, kind: 'cross-q', modulePath: 'up_blocks.1.attentions.1.transformer_blocks.0.attn2.to_q' });
    expect(best?.hint).toMatch(/known after a run/);
    expect(taps.find((t) => t.alias === 'M-R1-Res-Out')?.study).toBe(false);
    for (const t of taps) expect(parseTapAlias(t.alias)?.modulePath).toBe(t.modulePath);
  });

  it('finds the same aliases under a /unet wrapper or without the leading slash', async () => {
    const plain = listGraphTaps(await readGraphIndex(writeTinyUnet(join(dir, 'p')).path)).map((t) => t.alias);
    const wrapped = listGraphTaps(await readGraphIndex(writeTinyUnet(join(dir, 'w'), { prefix: '/unet/' }).path)).map((t) => t.alias);
    const bare = listGraphTaps(await readGraphIndex(writeTinyUnet(join(dir, 'b'), { prefix: '' }).path)).map((t) => t.alias);
    expect(wrapped).toEqual(plain);
    expect(bare).toEqual(plain);
  });
});
