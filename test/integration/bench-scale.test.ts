/**
 * `twinlens bench --scale sd15-mini` end to end: the reduced real-architecture
 * models are generated into a fresh folder by training's scale_models (the
 * real diffusers / transformers classes), the PyTorch reference runs on them,
 * and the engine, a bare ONNX Runtime session and PyTorch are compared on the
 * same weights and inputs. What is asserted is what must hold on any machine:
 * the engine computes PyTorch's numbers, every stage has its three timings,
 * and the pruned UNet does less work than the full one. Speed itself is the
 * bench's figure, not a test's (docs/performance.md).
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { ScaleBenchReport } from '../../src/engine/bench-scale.js';
import type { LegacyTorch } from '../../src/cli/commands/bench-scale.js';
import { pythonProblem } from '../../src/cli/python.js';
import { PY } from '../helpers/python.js';

const ROOT = path.resolve(import.meta.dirname, '..', '..');
const problem = pythonProblem(PY, ['torch', 'diffusers', 'transformers', 'onnx', 'safetensors']);
if (problem && process.env.CI) throw new Error(`CI needs the project's Python for bench --scale: ${problem}`);
const WORK = fs.mkdtempSync(path.join(os.tmpdir(), 'twinlens-bench-scale-'));
afterAll(() => fs.rmSync(WORK, { recursive: true, force: true }));

describe.skipIf(!!problem)(`bench --scale sd15-mini${problem ? ` (skipped: ${problem})` : ''}`, () => {
  it('generates the models, runs PyTorch on the same weights, and the engine matches it stage by stage', () => {
    const dir = path.join(WORK, 'sd15-mini');
    const md = path.join(WORK, 'table.md');
    const r = spawnSync(
      process.execPath,
      ['bin/twinlens.js', 'bench', '--scale', 'sd15-mini', '--bench-dir', dir, '--iterations', '2', '--warmup', '1', '--markdown', md, '--json'],
      { cwd: ROOT, encoding: 'utf8', maxBuffer: 1 << 26, env: { ...process.env, TWINLENS_GRAPH_CACHE: path.join(WORK, 'graphs') } },
    );
    expect(r.status, r.stderr).toBe(0);
    const report = JSON.parse(r.stdout) as ScaleBenchReport & { reference: { torch: string }; legacyTorch: LegacyTorch | null; legacyNote: string | null };
    expect(fs.existsSync(path.join(dir, 'scale.json'))).toBe(true);
    expect(report.reference.torch).toMatch(/^2\./);
    // Debian's PyTorch beside it where python3-torch is installed (not in CI's package list): the same UNet
    // through training's diffusers-compatible class must compute the same numbers; elsewhere the reason is given.
    if (report.legacyTorch) {
      expect(report.legacyTorch.torch).toMatch(/^1\./);
      expect(report.legacyTorch.median).toBeGreaterThan(0);
      expect(report.legacyTorch.max_rel_diff).toBeLessThan(1e-4);
    } else expect(report.legacyNote).toMatch(/no torch|not found|=none/);
    expect(report.stages.map((s) => s.stage)).toEqual([
      'vae',
      'text_encoder',
      'unet_batch2',
      'clip',
      'prefill',
      'decode_per_token',
      'prefill_int8',
      'decode_per_token_int8',
    ]);
    for (const s of report.stages.filter((x) => !x.stage.startsWith('decode_per_token') && !x.stage.endsWith('_int8'))) {
      expect(s.engineMs, s.stage).toBeGreaterThan(0);
      expect(s.bareMs, s.stage).toBeGreaterThan(0);
      expect(s.torchMs, s.stage).toBeGreaterThan(0);
      // Same weights, same inputs: float32 rounding apart, the same numbers.
      expect(s.relDiff, s.stage).toBeLessThan(1e-4);
      if (s.stage !== 'prefill') expect(s.gmac, s.stage).toBeGreaterThan(0);
    }
    // Greedy decoding from the same prompt embeddings: the Qwen2 decoder (transformers.js layout, KV cache
    // through the engine's LlmIo) picks PyTorch's tokens.
    const decode = report.stages.find((s) => s.stage === 'decode_per_token');
    expect(decode?.tokensAgree).toBe(1);
    expect(decode?.tokensPerSecond).toBeGreaterThan(0);
    expect(report.memory?.bytesPerToken).toBeGreaterThan(0);
    // The int8 variant: other weights, so only its speed and a loose closeness to PyTorch's float32 logits.
    const int8 = report.stages.find((s) => s.stage === 'decode_per_token_int8');
    expect(int8?.tokensPerSecond).toBeGreaterThan(0);
    expect(report.stages.find((s) => s.stage === 'prefill_int8')?.relDiff).toBeLessThan(0.5);
    expect(report.matmul.gflops).toBeGreaterThan(0);
    expect(report.pruned?.tensor).toMatch(/up_blocks\.1\/attentions\.1\/transformer_blocks\.0\/attn2\/to_q/);
    // A pruned graph has fewer nodes than the full one; its time is reported, not asserted.
    expect(report.pruned?.engineMs).toBeGreaterThan(0);
    expect(fs.readFileSync(md, 'utf8')).toContain('| unet_batch2 |');
    // The fresh-process memory check ran on a pack composed from the same models.
    const rss = (report as unknown as { rss: { baselineBytes: number; peakBytes: number; estimateBytes: number } }).rss;
    expect(fs.existsSync(path.join(dir, `pack-${report.image}`, 'pack.json'))).toBe(true);
    expect(rss.peakBytes).toBeGreaterThan(rss.baselineBytes);
    expect(rss.estimateBytes).toBeGreaterThan(0);
  }, 300_000);

  it('refuses an unknown scale with the list of known ones', () => {
    const r = spawnSync(process.execPath, ['bin/twinlens.js', 'bench', '--scale', 'sd99'], { cwd: ROOT, encoding: 'utf8' });
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(/--scale sd99 is not known.*sd15, sd15-mini/s);
  });
});
