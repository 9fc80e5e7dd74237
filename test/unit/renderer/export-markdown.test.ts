/** The Markdown export of a question: its answers side by side with the settings behind them. */
import { describe, expect, it } from 'vitest';
import { buildMarkdown } from '../../../src/renderer/lib/export.js';
import { EMPTY_KNOBS } from '../../../src/renderer/state/settings.js';

describe('buildMarkdown', () => {
  it('writes the question, image, pack, settings and one table row per mode', () => {
    const md = buildMarkdown({
      image: { name: 'two-circles.png', width: 64, height: 64, hash: 'abcdef0123456789', bytes: new Uint8Array(3) } as never,
      pack: { name: 'mini-world', defaults: { t: 50, guidance: 4, tap: 'U-L1-R1-B0-Cross-Q', promptSource: 'question', seed: 0, ensemble: 1 } } as never,
      knobs: { ...EMPTY_KNOBS, t: 10 },
      columns: {
        clip: { status: 'done', text: 'one', tokens: 1, ms: 240.4, runs: 1 },
        fused: { status: 'done', text: 'two | three\nlines', tokens: 3, ms: 199, runs: 1 },
        diffusion: { status: 'error', text: '', tokens: 0, runs: 1, error: { code: 'ONNX_RUN_FAILED', message: 'boom' } },
      },
      history: [],
      question: 'how many circles are there',
    });
    expect(md).toContain('# how many circles are there');
    expect(md).toContain('- image: two-circles.png (64×64');
    expect(md).toContain('- pack: mini-world');
    expect(md).toContain('t 10 · guidance 4 (pack default) · tap U-L1-R1-B0-Cross-Q (pack default)');
    expect(md).toContain('| clip | one | 1 | 240 ms |');
    expect(md).toContain('| fused | two \\| three lines | 3 | 199 ms |');
    expect(md).toContain('| diffusion | error: boom | 0 |  |');
  });
});
