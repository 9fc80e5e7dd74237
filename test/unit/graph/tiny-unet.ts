/**
 * Builds a tiny UNet-shaped ONNX model in memory with onnx-proto, named the way
 * torch.onnx names diffusers modules (`/up_blocks.1/attentions.1/
 * transformer_blocks.0/attn2/to_q/MatMul`), so graph-surgery tests need no
 * Python and no fixture files. Weights are deterministic; they can be stored
 * inline or as external data in a separate `weights.pb`.
 *
 * Layout: sample [batch,4,2,2] → down_blocks.2 (resnets.0, attentions.0) →
 * mid_block (resnets.0, attentions.0, resnets.1) → up_blocks.1 (resnets.1,
 * attentions.1, resnets.2, attentions.2) → up_blocks.2 (resnets.1,
 * attentions.1, resnets.2) → conv_out → out_sample. Each attention module has
 * one transformer block with self-attention (attn1) and cross-attention (attn2,
 * keys/values from encoder_hidden_states [batch,3,4]); timestep (int64) is
 * added inside every resnet.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import onnxProto from 'onnx-proto';

export const { onnx } = onnxProto;

type INode = NonNullable<Parameters<typeof onnx.NodeProto.create>[0]>;
type ITensor = NonNullable<Parameters<typeof onnx.TensorProto.create>[0]>;

export interface TinyUnetOptions {
  /** Prefix of every node name: '/' (torch default), '/unet/' or '' (no leading slash). */
  prefix?: string;
  /** Store every float initializer in `weights.pb` beside the model. */
  external?: boolean;
  /** Extra inline initializer of this many float32 values (tests the lazy scan). */
  bigInitializerFloats?: number;
}

export interface TinyUnet {
  bytes: Uint8Array;
  /** Contents of weights.pb when external. */
  weights?: Uint8Array;
  /** Float initializers by name (their values, for reference maths). */
  floats: Map<string, Float32Array>;
  nodeCount: number;
}

const C = 4; // channels = tokens = width of every projection
const FLOAT = 1;
const INT64 = 7;

export function buildTinyUnet(opts: TinyUnetOptions = {}): TinyUnet {
  const p = opts.prefix ?? '/';
  const nodes: INode[] = [];
  const inits: ITensor[] = [];
  const floats = new Map<string, Float32Array>();
  let seed = 12345;
  const rand = (): number => {
    seed = (seed * 1103515245 + 12345) % 2147483648;
    return (seed / 2147483648 - 0.5) * 0.8;
  };
  const weight = (name: string, dims: number[]): string => {
    const n = dims.reduce((a, b) => a * b, 1);
    const data = new Float32Array(n).map(() => rand());
    floats.set(name, data);
    inits.push({ name, dims, dataType: FLOAT, rawData: new Uint8Array(data.buffer) });
    return name;
  };
  const node = (scope: string, op: string, inputs: string[], attrs: Record<string, unknown>[] = [], outName?: string): string => {
    const name = `${p}${scope}/${op}`;
    const output = outName ?? `${name}_output_0`;
    nodes.push({ name, opType: op.replace(/_\d+$/, ''), input: inputs, output: [output], attribute: attrs });
    return output;
  };
  const intsConst = (scope: string, op: string, values: number[]): string =>
    node(scope, op, [], [{ name: 'value', type: 4, t: { dims: [values.length], dataType: INT64, int64Data: values } }]);
  const perm = [{ name: 'perm', type: 7, ints: [0, 2, 1] }];

  const timestep = node('time_proj', 'Cast', ['timestep'], [{ name: 'to', type: 2, i: FLOAT }]);
  const temb = node('time_proj', 'Mul', [timestep, weight('time_proj.scale', [1])]);

  const resnet = (scope: string, x: string): string => {
    const w = `${scope.replaceAll('/', '.')}.conv1`;
    const c = node(`${scope}/conv1`, 'Conv', [x, weight(`${w}.weight`, [C, C, 1, 1]), weight(`${w}.bias`, [C])]);
    const t = node(scope, 'Add', [c, temb]);
    return node(scope, 'Add_1', [t, x]);
  };
  const attention = (scope: string, q: string, kv: string, w: string): string => {
    const proj = (what: string, x: string): string => node(`${scope}/${what}`, 'MatMul', [x, weight(`${w}.${what}.weight`, [C, C])]);
    const qq = proj('to_q', q);
    const kk = proj('to_k', kv);
    const vv = proj('to_v', kv);
    const kt = node(scope, 'Transpose', [kk], perm);
    const s = node(scope, 'MatMul', [qq, kt]);
    const pr = node(scope, 'Softmax', [s], [{ name: 'axis', type: 2, i: -1 }]);
    const o = node(scope, 'MatMul_1', [pr, vv]);
    const out = node(`${scope}/to_out.0`, 'MatMul', [o, weight(`${w}.to_out.0.weight`, [C, C])]);
    return node(`${scope}/to_out.0`, 'Add', [out, weight(`${w}.to_out.0.bias`, [C])]);
  };
  const transformer = (scope: string, x: string): string => {
    const shape = intsConst(scope, 'Constant', [-1, C, C]);
    const tokens = node(scope, 'Transpose', [node(scope, 'Reshape', [x, shape])], perm);
    const tb = `${scope}/transformer_blocks.0`;
    const w = tb.replaceAll('/', '.');
    const t1 = node(tb, 'Add', [tokens, attention(`${tb}/attn1`, tokens, tokens, `${w}.attn1`)]);
    const t2 = node(tb, 'Add_1', [t1, attention(`${tb}/attn2`, t1, 'encoder_hidden_states', `${w}.attn2`)]);
    const back = node(scope, 'Transpose_1', [t2], perm);
    const shape2 = intsConst(scope, 'Constant_1', [-1, C, 2, 2]);
    return node(scope, 'Add', [node(scope, 'Reshape_1', [back, shape2]), x]);
  };

  let h = 'sample';
  h = resnet('down_blocks.2/resnets.0', h);
  h = transformer('down_blocks.2/attentions.0', h);
  h = resnet('mid_block/resnets.0', h);
  h = transformer('mid_block/attentions.0', h);
  h = resnet('mid_block/resnets.1', h);
  h = resnet('up_blocks.1/resnets.1', h);
  h = transformer('up_blocks.1/attentions.1', h);
  h = resnet('up_blocks.1/resnets.2', h);
  h = transformer('up_blocks.1/attentions.2', h);
  h = resnet('up_blocks.2/resnets.1', h);
  h = transformer('up_blocks.2/attentions.1', h);
  h = resnet('up_blocks.2/resnets.2', h);
  node('conv_out', 'Conv', [h, weight('conv_out.weight', [C, C, 1, 1]), weight('conv_out.bias', [C])], [], 'out_sample');

  if (opts.bigInitializerFloats) {
    // Unused by any node: pruning must drop it, indexing must not decode it.
    inits.push({ name: 'unused.big', dims: [opts.bigInitializerFloats], dataType: FLOAT, rawData: new Uint8Array(opts.bigInitializerFloats * 4) });
  }

  let weights: Uint8Array | undefined;
  if (opts.external) {
    const parts: Uint8Array[] = [];
    let offset = 0;
    for (const t of inits) {
      if (t.dataType !== FLOAT || !t.rawData) continue;
      const raw = t.rawData as Uint8Array;
      parts.push(raw);
      t.externalData = [
        { key: 'location', value: 'weights.pb' },
        { key: 'offset', value: String(offset) },
        { key: 'length', value: String(raw.length) },
      ];
      t.dataLocation = 1;
      delete t.rawData;
      offset += raw.length;
    }
    weights = Buffer.concat(parts);
  }

  const tensorType = (elemType: number, dims: Array<number | string>) => ({
    tensorType: { elemType, shape: { dim: dims.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) } },
  });
  const bytes = onnx.ModelProto.encode({
    irVersion: 8,
    producerName: 'twinlens-test',
    opsetImport: [{ domain: '', version: 17 }],
    graph: {
      name: 'tiny_unet',
      node: nodes,
      initializer: inits,
      input: [
        { name: 'sample', type: tensorType(FLOAT, ['batch', C, 2, 2]) },
        { name: 'timestep', type: tensorType(INT64, [1]) },
        { name: 'encoder_hidden_states', type: tensorType(FLOAT, ['batch', 3, C]) },
      ],
      output: [{ name: 'out_sample', type: tensorType(FLOAT, ['batch', C, 2, 2]) }],
      valueInfo: [{ name: `${p}down_blocks.2/resnets.0/Add_1_output_0`, type: tensorType(FLOAT, ['batch', C, 2, 2]) }],
    },
  }).finish();
  return { bytes, weights, floats, nodeCount: nodes.length };
}

/** Writes the model (and weights.pb when external) into `dir`; returns the model path. */
export function writeTinyUnet(dir: string, opts: TinyUnetOptions = {}, file = 'model.onnx'): { path: string; model: TinyUnet } {
  mkdirSync(dir, { recursive: true });
  const model = buildTinyUnet(opts);
  const path = join(dir, file);
  writeFileSync(path, model.bytes);
  if (model.weights) writeFileSync(join(dir, 'weights.pb'), model.weights);
  return { path, model };
}

/** Deterministic feeds for the tiny UNet (batch 1). */
export function tinyFeeds(): { sample: Float32Array; timestep: BigInt64Array; ehs: Float32Array } {
  const sample = Float32Array.from({ length: C * 4 }, (_, i) => Math.sin(i + 1));
  const ehs = Float32Array.from({ length: 3 * C }, (_, i) => Math.cos(i * 0.7));
  return { sample, timestep: BigInt64Array.from([50n]), ehs };
}
