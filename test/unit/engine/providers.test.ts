import { describe, expect, it } from 'vitest';
import { bundledProviders, providerCandidates } from '../../../src/engine/onnx/providers.js';

describe('execution providers', () => {
  it('always ends with cpu, and a forced provider falls back to cpu', () => {
    for (const p of ['linux', 'win32', 'darwin'] as const) expect(providerCandidates('auto', p).at(-1)).toBe('cpu');
    expect(providerCandidates('cpu')).toEqual(['cpu']);
    expect(providerCandidates('cuda')).toEqual(['cuda', 'cpu']);
    expect(providerCandidates('webgpu')).toEqual(['webgpu', 'cpu']);
  });

  it('rejects unknown providers with the list of valid ones', () => {
    expect(() => providerCandidates('tpu' as never)).toThrow(/auto, cpu, cuda, dml, coreml, webgpu/);
  });

  it('lists what this onnxruntime-node build bundles (cpu at least)', () => {
    expect(bundledProviders()).toContain('cpu');
  });
});
