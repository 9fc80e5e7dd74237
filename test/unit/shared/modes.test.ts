import { describe, expect, it } from 'vitest';
import { allModeIds, runnableModes } from '../../../src/shared/modes.js';

const info = {
  name: 'p',
  modes: [
    { id: 'clip', extra: false, available: true, inputs: ['clip'] },
    { id: 'diffusion', extra: false, available: false, reason: 'no UNet', inputs: ['diffusion'] },
    { id: 'fused', extra: false, available: true, inputs: ['clip', 'diffusion'] },
    { id: 'leaky', extra: true, available: true, inputs: ['diffusion'] },
  ],
};

describe('what "all" means', () => {
  it('is every non-extra mode in manifest order (ask keeps the unavailable ones)', () => {
    expect(allModeIds(info.modes)).toEqual(['clip', 'diffusion', 'fused']);
  });

  it('scored runs take the available ones, or what `defaults` selects (extras included)', () => {
    expect(runnableModes(info, 'all')).toEqual(['clip', 'fused']);
    expect(runnableModes(info, undefined)).toEqual(['clip', 'fused']);
    expect(runnableModes(info, 'all', (m) => m.inputs.includes('diffusion'))).toEqual(['fused', 'leaky']);
  });

  it('checks a named list and says why a mode cannot run', () => {
    expect(runnableModes(info, ['leaky', 'clip'])).toEqual(['leaky', 'clip']);
    expect(() => runnableModes(info, ['nope'])).toThrow(/has no mode "nope"/);
    expect(() => runnableModes(info, ['diffusion'])).toThrow(/unavailable: no UNet/);
    expect(() => runnableModes({ name: 'q', modes: [info.modes[1]] }, 'all')).toThrow(/no available answer mode/);
  });
});
