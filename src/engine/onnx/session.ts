/**
 * OnnxSession: the only place that talks to onnxruntime-node. It opens a model
 * by path (so ONNX Runtime resolves external data beside it), picks an
 * execution provider with CPU fallback, exposes input/output metadata, and
 * converts at the boundary so the rest of the engine only sees float32,
 * int32 and int64: float16 inputs are converted from float32 and float16
 * outputs come back as float32.
 */
import * as fs from 'node:fs';
import * as ort from 'onnxruntime-node';
import { TwinLensError } from '../../shared/errors.js';
import { float16BitsToFloat32, float32ToFloat16Bits } from './fp16.js';
import { type ProviderChoice, type ProviderName, providerCandidates } from './providers.js';

export type DType = 'float32' | 'float16' | 'int64' | 'int32' | 'bool' | 'uint8' | 'int8' | 'string' | 'unknown';

export interface IoMeta {
  name: string;
  type: DType;
  /** Number for fixed axes, string for symbolic ones, -1 when unknown. */
  shape: Array<number | string>;
}

/**
 * What the engine passes around: float data is float32, except that a
 * Uint16Array holds raw float16 bits — used to hand an fp16 KV cache back to
 * the decoder without converting it twice per generated token.
 */
export interface HostTensor {
  dims: number[];
  data: Float32Array | Int32Array | BigInt64Array | Uint8Array | Uint16Array;
}

export interface RunOptions {
  /** Float16 outputs for which this returns true come back as raw Uint16Array bits. */
  rawFloat16?: (name: string) => boolean;
}

export interface SessionOptions {
  provider?: ProviderChoice;
  /** For error messages and status: "unet", "clip.vision" … */
  label?: string;
  threads?: number;
}

function toDType(t: string | undefined): DType {
  switch (t) {
    case 'float32':
    case 'float16':
    case 'int64':
    case 'int32':
    case 'bool':
    case 'uint8':
    case 'int8':
    case 'string':
      return t;
    default:
      return 'unknown';
  }
}

function readMeta(meta: readonly ort.InferenceSession.ValueMetadata[] | undefined, names: readonly string[]): Map<string, IoMeta> {
  const out = new Map<string, IoMeta>();
  for (const name of names) {
    const m = meta?.find((x) => x.name === name);
    if (m && m.isTensor) out.set(name, { name, type: toDType(m.type), shape: [...m.shape] });
    else out.set(name, { name, type: 'unknown', shape: [] });
  }
  return out;
}

export class OnnxSession {
  readonly inputs: Map<string, IoMeta>;
  readonly outputs: Map<string, IoMeta>;
  private disposed = false;

  private constructor(
    private session: ort.InferenceSession,
    readonly path: string,
    readonly label: string,
    readonly provider: ProviderName,
    readonly providerNote: string | undefined,
  ) {
    this.inputs = readMeta(session.inputMetadata, session.inputNames);
    this.outputs = readMeta(session.outputMetadata, session.outputNames);
  }

  static async open(path: string, opts: SessionOptions = {}): Promise<OnnxSession> {
    const label = opts.label ?? path;
    if (!fs.existsSync(path)) {
      throw new TwinLensError('PACK_FILE_MISSING', `${label}: ONNX file not found at ${path}`, 'Check the path in pack.json');
    }
    const candidates = providerCandidates(opts.provider ?? 'auto');
    const failures: string[] = [];
    for (const provider of candidates) {
      try {
        const session = await ort.InferenceSession.create(path, {
          executionProviders: [provider],
          graphOptimizationLevel: 'all',
          // Measured on the SD 1.5 UNet (docs/performance.md): with the memory pattern on, the second run
          // allocates one planned block while the arena still holds the first run's buffers, doubling the
          // activations' memory (+2.2 GiB at 512 px) for no speed gain (equal or slower).
          enableMemPattern: false,
          logSeverityLevel: 3,
          ...(opts.threads ? { intraOpNumThreads: opts.threads } : {}),
        });
        const note = failures.length ? `fell back to ${provider}: ${failures.join('; ')}` : undefined;
        return new OnnxSession(session, path, label, provider, note);
      } catch (e) {
        failures.push(`${provider}: ${firstLine(e)}`);
      }
    }
    throw new TwinLensError(
      'ONNX_LOAD_FAILED',
      `${label}: ONNX Runtime could not load ${path}: ${failures.map((f) => f.replace(/^cpu: /, '')).join('; ')}`,
      'The file may be truncated or not an ONNX model; re-download or re-export it',
    );
  }

  get inputNames(): string[] {
    return [...this.inputs.keys()];
  }

  get outputNames(): string[] {
    return [...this.outputs.keys()];
  }

  /**
   * Run with float32/int feeds, converting each to the dtype the model declares.
   * Feeds the model does not declare are dropped (pruned graphs lose inputs).
   */
  async run(feeds: Record<string, HostTensor>, fetches?: string[], opts: RunOptions = {}): Promise<Record<string, HostTensor>> {
    if (this.disposed) throw new TwinLensError('ENGINE_DISPOSED', `${this.label}: session already disposed`);
    const ortFeeds: Record<string, ort.Tensor> = {};
    for (const [name, meta] of this.inputs) {
      const t = feeds[name];
      if (!t) {
        throw new TwinLensError(
          'ONNX_IO_MISMATCH',
          `${this.label}: no value for model input "${name}"`,
          `The model expects inputs ${this.inputNames.join(', ')}`,
        );
      }
      ortFeeds[name] = toOrtTensor(t, meta, this.label);
    }
    let result: ort.InferenceSession.OnnxValueMapType;
    try {
      result = fetches ? await this.session.run(ortFeeds, fetches) : await this.session.run(ortFeeds);
    } catch (e) {
      throw new TwinLensError('ONNX_RUN_FAILED', `${this.label}: inference failed: ${firstLine(e)}`, 'Check that the inputs match the model (shapes, dtypes)');
    }
    const out: Record<string, HostTensor> = {};
    for (const [name, value] of Object.entries(result)) {
      const t = value as ort.Tensor;
      out[name] = t.type === 'float16' && opts.rawFloat16?.(name) ? { dims: [...t.dims], data: t.data as Uint16Array } : fromOrtTensor(t);
    }
    return out;
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    void this.session.release().catch(() => undefined);
  }
}

function firstLine(e: unknown): string {
  const msg = e instanceof Error ? e.message : String(e);
  return msg.split('\n')[0].slice(0, 400);
}

function toOrtTensor(t: HostTensor, meta: IoMeta, label: string): ort.Tensor {
  const want = meta.type;
  const d = t.data;
  if (meta.shape.length && meta.shape.length !== t.dims.length) {
    throw new TwinLensError(
      'ONNX_IO_MISMATCH',
      `${label}: input "${meta.name}" has rank ${meta.shape.length} [${meta.shape.join(',')}] but got [${t.dims.join(',')}]`,
      'The model does not follow the expected contract; check the export',
    );
  }
  if (d instanceof Uint16Array) {
    // Raw float16 bits: pass through to a float16 input, widen for a float32 one.
    if (want === 'float16' || want === 'unknown') return new ort.Tensor('float16', d, t.dims);
    if (want === 'float32') return new ort.Tensor('float32', float16BitsToFloat32(d), t.dims);
  }
  if (want === 'float32' || want === 'float16') {
    const f = d instanceof Float32Array ? d : Float32Array.from(d as ArrayLike<number | bigint>, Number);
    return want === 'float32' ? new ort.Tensor('float32', f, t.dims) : new ort.Tensor('float16', float32ToFloat16Bits(f), t.dims);
  }
  if (want === 'int64') {
    const b = d instanceof BigInt64Array ? d : BigInt64Array.from(d as ArrayLike<number>, (x) => BigInt(Math.trunc(Number(x))));
    return new ort.Tensor('int64', b, t.dims);
  }
  if (want === 'int32') {
    const i = d instanceof Int32Array ? d : Int32Array.from(d as ArrayLike<number | bigint>, Number);
    return new ort.Tensor('int32', i, t.dims);
  }
  if (want === 'bool' || want === 'uint8') return new ort.Tensor(want, d instanceof Uint8Array ? d : Uint8Array.from(d as ArrayLike<number>, Number), t.dims);
  // Unknown metadata: pass as given.
  if (d instanceof Float32Array) return new ort.Tensor('float32', d, t.dims);
  if (d instanceof BigInt64Array) return new ort.Tensor('int64', d, t.dims);
  if (d instanceof Int32Array) return new ort.Tensor('int32', d, t.dims);
  return new ort.Tensor('uint8', d, t.dims);
}

function fromOrtTensor(v: ort.Tensor): HostTensor {
  const dims = [...v.dims];
  switch (v.type) {
    case 'float32':
      return { dims, data: v.data as Float32Array };
    case 'float16':
      return { dims, data: float16BitsToFloat32(v.data as Uint16Array) };
    case 'int64':
      return { dims, data: v.data as BigInt64Array };
    case 'int32':
      return { dims, data: v.data as Int32Array };
    case 'float64':
      return { dims, data: Float32Array.from(v.data as Float64Array) };
    case 'bool':
    case 'uint8':
      return { dims, data: v.data as Uint8Array };
    default:
      return { dims, data: Float32Array.from(v.data as ArrayLike<number>, Number) };
  }
}

export function f32(dims: number[], data?: Float32Array): HostTensor {
  return { dims, data: data ?? new Float32Array(dims.reduce((a, b) => a * b, 1)) };
}

export function i64(dims: number[], values: ArrayLike<number>): HostTensor {
  return { dims, data: BigInt64Array.from(values as ArrayLike<number>, (x) => BigInt(x)) };
}

export function asFloat32(t: HostTensor): Float32Array {
  if (t.data instanceof Float32Array) return t.data;
  if (t.data instanceof Uint16Array) return float16BitsToFloat32(t.data);
  return Float32Array.from(t.data as ArrayLike<number | bigint>, Number);
}
