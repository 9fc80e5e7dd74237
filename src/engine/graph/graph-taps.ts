/**
 * GraphTaps: intermediate tensors of one ONNX model made fetchable. Resolves
 * taps with tap-resolve.ts (the pack's overrides, then the alias grammar), and opens (via
 * the SessionPool) an edited copy of the graph whose outputs are exactly the
 * requested tensors — pruned after them, so reading an early tap does not pay
 * for the rest of the UNet. Used for the UNet and for CLIP's hidden layers.
 */
import { readGraphIndex, type GraphIndex } from './onnx-index.js';
import { editGraph } from './graph-edit.js';
import { findTensors, resolveTap } from './tap-resolve.js';
import type { OnnxSession } from '../onnx/session.js';
import type { SessionPool } from '../sessions.js';

export class GraphTaps {
  private index: Promise<GraphIndex> | undefined;

  constructor(
    readonly modelPath: string,
    private pool: SessionPool,
    private label: string,
    private overrides: Record<string, string> = {},
    private cacheDir?: string,
  ) {}

  graph(): Promise<GraphIndex> {
    this.index ??= readGraphIndex(this.modelPath);
    this.index.catch(() => (this.index = undefined));
    return this.index;
  }

  async resolve(aliasOrName: string): Promise<string> {
    const idx = await this.graph();
    return resolveTap(idx, aliasOrName, { overrides: this.overrides }).tensorName;
  }

  async crossAttentionTensors(pattern: string, layers?: string[]): Promise<string[]> {
    const idx = await this.graph();
    const all = findTensors(idx, new RegExp(pattern));
    const chosen = layers?.length ? all.filter((t) => layers.some((l) => t.tensorName.includes(l) || t.modulePath.includes(l))) : all;
    return chosen.map((t) => t.tensorName);
  }

  /** A session whose outputs are `outputs` (graph edited, pruned and cached beside the model). */
  async session(outputs: string[]): Promise<OnnxSession> {
    const idx = await this.graph();
    const original = new Set(idx.outputs.map((o) => o.name));
    if (outputs.every((o) => original.has(o))) return this.pool.get(this.modelPath, this.label);
    // Sorted so the same set of taps maps to one edited file and one session.
    const sorted = [...new Set(outputs)].sort();
    const key = sorted.join('|');
    const edited = await editGraph(this.modelPath, { addOutputs: sorted, prune: true, cacheDir: this.cacheDir });
    return this.pool.get(edited.path, this.label, key);
  }
}
