/**
 * The manifest's projector keys: `xattn` names the cross-attention projector; packs written
 * before the rename called it "fused" (the concat mode's name too) and still load, read as xattn.
 */
import { describe, expect, it } from 'vitest';
import { PackManifest } from '../../../src/shared/manifest.js';

const base = { format: 'twinlens-pack', version: 1, name: 'p' } as const;
const mode = (projectors: Record<string, { path: string }>) => ({ inputs: ['clip', 'diffusion'], fusion: 'cross-attention', projectors });

describe('ModeSection.projectors', () => {
  it('reads xattn, and the older "fused" key as xattn', () => {
    const now = PackManifest.parse({ ...base, modes: { x: mode({ xattn: { path: 'projectors/x.onnx' } }) } });
    expect(now.modes.x.projectors).toEqual({ xattn: { path: 'projectors/x.onnx' } });
    const old = PackManifest.parse({ ...base, modes: { x: mode({ fused: { path: 'projectors/f.onnx' } }) } });
    expect(old.modes.x.projectors).toEqual({ xattn: { path: 'projectors/f.onnx' } });
    expect('fused' in old.modes.x.projectors).toBe(false);
  });

  it('prefers xattn when a pack names both', () => {
    const both = PackManifest.parse({ ...base, modes: { x: mode({ xattn: { path: 'a.onnx' }, fused: { path: 'b.onnx' } }) } });
    expect(both.modes.x.projectors).toEqual({ xattn: { path: 'a.onnx' } });
  });
});
