/**
 * A bare onnxruntime-node session for `bench --scale`: the model opened with
 * nothing of the engine around it (no SessionPool, no dtype conversion, no
 * graph edits), so the bench can show what the engine adds on the same graph,
 * and a one-MatMul model timed the same way as the machine's practical
 * compute ceiling. It lives here because onnx/ is the only folder that may
 * import ONNX Runtime.
 */
import * as ort from 'onnxruntime-node';
import { TwinLensError } from '../../shared/errors.js';
import { median } from '../util/timer.js';
import type { HostTensor } from './session.js';

export interface BareOptions {
  /** intraOpNumThreads; 0 = ONNX Runtime's default (one per physical core). */
  threads?: number;
  provider?: string;
}

export class BareSession {
  private constructor(
    private session: ort.InferenceSession,
    readonly path: string,
  ) {}

  static async open(path: string, o: BareOptions = {}): Promise<BareSession> {
    try {
      const s = await ort.InferenceSession.create(path, {
        executionProviders: [o.provider ?? 'cpu'],
        graphOptimizationLevel: 'all',
        logSeverityLevel: 3,
        ...(o.threads ? { intraOpNumThreads: o.threads } : {}),
      });
      return new BareSession(s, path);
    } catch (e) {
      throw new TwinLensError('ONNX_LOAD_FAILED', `ONNX Runtime could not load ${path}: ${(e as Error).message.split('\n')[0]}`, 'Regenerate the bench models');
    }
  }

  /**
   * The feeds converted once to the array types the model declares (float32 data for an int32 or
   * int64 input becomes Int32Array / BigInt64Array), so that the timed runs convert nothing.
   */
  typed(feeds: Record<string, HostTensor>): Record<string, HostTensor> {
    const out: Record<string, HostTensor> = {};
    for (const m of this.session.inputMetadata) {
      const t = feeds[m.name];
      if (!t || !m.isTensor) continue;
      const data =
        m.type === 'int32' && !(t.data instanceof Int32Array)
          ? Int32Array.from(t.data as Float32Array)
          : m.type === 'int64' && !(t.data instanceof BigInt64Array)
            ? BigInt64Array.from(t.data as Float32Array, (x) => BigInt(Math.trunc(x)))
            : t.data;
      out[m.name] = { dims: t.dims, data };
    }
    return out;
  }

  /** One run with the feeds as they are (their typed arrays must already match the model's input types: see typed()). */
  async run(feeds: Record<string, HostTensor>): Promise<Record<string, HostTensor>> {
    const ortFeeds: Record<string, ort.Tensor> = {};
    for (const name of this.session.inputNames) {
      const t = feeds[name];
      if (!t) throw new TwinLensError('ONNX_IO_MISMATCH', `${this.path}: no value for input "${name}"`, `Inputs: ${this.session.inputNames.join(', ')}`);
      ortFeeds[name] = new ort.Tensor(t.data as Float32Array, t.dims);
    }
    const r = await this.session.run(ortFeeds);
    const out: Record<string, HostTensor> = {};
    for (const [k, v] of Object.entries(r)) out[k] = { dims: [...(v as ort.Tensor).dims], data: (v as ort.Tensor).data as Float32Array };
    return out;
  }

  dispose(): void {
    void this.session.release().catch(() => undefined);
  }
}

/**
 * GFLOP/s of one n×n float32 MatMul (2n³ operations) in ONNX Runtime: the
 * rate the UNet's convolutions and attention products could reach at best on
 * this machine, measured in the same process as the stages it bounds.
 */
export async function matmulCeiling(modelPath: string, n: number, iterations: number, o: BareOptions = {}): Promise<{ ms: number[]; gflops: number }> {
  const s = await BareSession.open(modelPath, o);
  try {
    const a = new Float32Array(n * n).map((_, i) => ((i * 2654435761) % 1000) / 1000 - 0.5);
    const feeds = { a: { dims: [n, n], data: a }, b: { dims: [n, n], data: a } };
    await s.run(feeds); // warm-up: first run allocates and packs
    const ms: number[] = [];
    for (let i = 0; i < iterations; i++) {
      const t0 = performance.now();
      await s.run(feeds);
      ms.push(performance.now() - t0);
    }
    return { ms, gflops: (2 * n ** 3) / (median(ms) / 1000) / 1e9 };
  } finally {
    s.dispose();
  }
}
