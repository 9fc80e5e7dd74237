/**
 * Peak memory of answering one question's features on a pack, against what
 * `packs estimate` predicted for it — the check that the estimate (which
 * decides whether a pack may open at all) is right at real sizes.
 *
 * Why a separate process: peak RSS is per process and never goes down, so it
 * must be measured in a process that did nothing else (the bench's own holds
 * a bare UNet session beside the engine's). `bench --scale` composes an SD +
 * CLIP pack from the generated models, then runs `bench --rss-probe PACK` in a
 * child, which calls `probeFeaturesRss` and prints its JSON.
 */
import * as fs from 'node:fs';
import { Engine } from './engine.js';
import { estimatePack } from './importers/memory-estimate.js';
import type { ProviderChoice } from './onnx/providers.js';

export interface RssProbe {
  /** maxRSS of this process before the pack was opened (Node, modules). */
  baselineBytes: number;
  /** maxRSS after the pack's features (VAE, text encoder, pruned UNet, CLIP) were computed twice. */
  peakBytes: number;
  /** What `packs estimate` predicted for the pack, at its default tap. */
  estimateBytes: number;
  /** (peak − baseline) ÷ estimate. */
  ratio: number;
}

/**
 * Peak resident memory of this process. On Linux from /proc/self/status (VmHWM): getrusage's maxRSS
 * keeps the pre-exec peak of the forked parent (a child spawned by a bench that held 7 GB starts at
 * 7 GB), while VmHWM belongs to this process's own address space.
 */
function maxRss(): number {
  try {
    const m = /^VmHWM:\s+(\d+) kB/m.exec(fs.readFileSync('/proc/self/status', 'utf8'));
    if (m) return Number(m[1]) * 1024;
  } catch {
    // not Linux
  }
  return process.resourceUsage().maxRSS * 1024;
}

export async function probeFeaturesRss(packDir: string, image: string, provider: ProviderChoice = 'cpu'): Promise<RssProbe> {
  const estimate = await estimatePack(packDir);
  const baselineBytes = maxRss();
  const engine = await Engine.open(packDir, { provider });
  try {
    const tap = engine.pack.manifest.diffusion?.defaults.tap;
    for (let i = 0; i < 2; i++) {
      engine.clearCaches();
      await engine.features({
        image: { path: image },
        prompt: 'what colour is the circle',
        taps: tap ? [tap] : [],
        diffusion: {},
        crossAttention: false,
        clip: true,
        keepBranches: false,
      });
    }
  } finally {
    engine.dispose();
  }
  const peakBytes = maxRss();
  return { baselineBytes, peakBytes, estimateBytes: estimate.totalBytes, ratio: (peakBytes - baselineBytes) / estimate.totalBytes };
}
