/**
 * A cheap listing of an ONNX graph: nodes, graph inputs/outputs, value infos and
 * initializers, without materialising any weight.
 *
 * Tap resolution and graph surgery only need names and wiring, yet UNet files
 * can hold gigabytes of inline weights. The scan walks `ModelProto` and
 * `GraphProto` fields with protobufjs's Reader (see proto-fields.ts), decodes
 * NodeProto / ValueInfoProto with onnx-proto, reads only the header fields of
 * each TensorProto (name, dims, type, external-data location) and skips
 * `raw_data` by its length. It also records where every graph field's bytes
 * are, which graph-edit.ts uses to rewrite the graph losslessly.
 *
 * Repeated `graph` fields (a valid protobuf merge, which graph-edit.ts itself
 * produces when it appends outputs) are read as one graph, as ONNX Runtime does.
 */
import { readFile } from 'node:fs/promises';
import onnxProto from 'onnx-proto';
import { TwinLensError } from '../../shared/errors.js';
import { type FieldSpan, ProtoWalkError, WIRE_LEN, int64sOf, payloadOf, stringOf, toNumber, varintOf, walkFields } from './proto-fields.js';

const { onnx } = onnxProto;

/** Element types by TensorProto.DataType number; names follow onnxruntime-common where it has one. */
const ELEMENT_TYPES: Record<number, string> = {
  1: 'float32',
  2: 'uint8',
  3: 'int8',
  4: 'uint16',
  5: 'int16',
  6: 'int32',
  7: 'int64',
  8: 'string',
  9: 'bool',
  10: 'float16',
  11: 'float64',
  12: 'uint32',
  13: 'uint64',
  14: 'complex64',
  15: 'complex128',
  16: 'bfloat16',
  17: 'float8e4m3fn',
  18: 'float8e4m3fnuz',
  19: 'float8e5m2',
  20: 'float8e5m2fnuz',
  21: 'uint4',
  22: 'int4',
  23: 'float4e2m1',
};

export function elementTypeName(dataType: number): string {
  return ELEMENT_TYPES[dataType] ?? (dataType === 0 ? 'undefined' : `type${dataType}`);
}

/** One node, in file order (ONNX requires file order to be a topological order). */
export interface GraphNode {
  name: string;
  opType: string;
  domain: string;
  inputs: string[];
  outputs: string[];
  /** Outer-scope tensors read by this node's subgraphs (If/Loop/Scan bodies); absent when none. */
  implicitInputs?: string[];
}

/** A graph input, output or value_info entry. */
export interface GraphValue {
  name: string;
  /** 'float32', 'float16', 'int64', ...; absent when the proto carries no tensor type. */
  elementType?: string;
  /** A number, a symbolic name such as 'batch', or null for an unnamed dynamic dim; absent when no shape. */
  dims?: Array<number | string | null>;
}

export interface GraphInitializer {
  name: string;
  elementType: string;
  dims: number[];
  /** Stored in a separate file (TensorProto.data_location == EXTERNAL). */
  external: boolean;
  /** External data file, relative to the model's folder. */
  location?: string;
  /** Bytes of inline raw_data (0 for external or typed-field storage). */
  inlineBytes: number;
}

export interface GraphIndex {
  modelPath: string;
  fileBytes: number;
  irVersion: number;
  producer: string;
  opsets: Array<{ domain: string; version: number }>;
  graphName: string;
  nodes: GraphNode[];
  inputs: GraphValue[];
  outputs: GraphValue[];
  valueInfo: GraphValue[];
  initializers: GraphInitializer[];
  /** Names of sparse initializers (rare; kept apart because their bytes differ). */
  sparseInitializers: string[];
  usesExternalData: boolean;
  /** Distinct external-data files, relative to the model's folder. */
  externalDataFiles: string[];
}

/** What the kind of a GraphProto field is, and which index entry it produced. */
export type GraphFieldKind = 'node' | 'initializer' | 'input' | 'output' | 'valueInfo' | 'sparseInitializer' | 'other';

export interface GraphFieldRef extends FieldSpan {
  kind: GraphFieldKind;
  /** Position in the matching GraphIndex array (nodes, initializers, ...); -1 for 'other'. */
  ref: number;
}

/** The index plus the byte layout graph-edit.ts needs; internal to the graph folder. */
export interface ModelScan {
  index: GraphIndex;
  bytes: Buffer;
  /** Top-level ModelProto fields in file order. */
  top: FieldSpan[];
  /** Fields of every `graph` occurrence, in order, as one merged graph. */
  graph: GraphFieldRef[];
}

const GRAPH_FIELD_KINDS: Record<number, GraphFieldKind> = {
  1: 'node',
  5: 'initializer',
  11: 'input',
  12: 'output',
  13: 'valueInfo',
  15: 'sparseInitializer',
};

/** Lists an ONNX graph without materialising its weights. */
export async function readGraphIndex(modelPath: string): Promise<GraphIndex> {
  return (await scanModelFile(modelPath)).index;
}

/** Inputs a caller must feed: graph inputs that are not also initializers (IR < 4 lists weights as inputs). */
export function feedInputs(index: GraphIndex): GraphValue[] {
  const weights = new Set(index.initializers.map((i) => i.name));
  return index.inputs.filter((i) => !weights.has(i.name));
}

export async function scanModelFile(modelPath: string): Promise<ModelScan> {
  let bytes: Buffer;
  try {
    bytes = await readFile(modelPath);
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    const why =
      err.code === 'ENOENT'
        ? 'the file does not exist'
        : err.code === 'ERR_FS_FILE_TOO_LARGE'
          ? 'the file is larger than 2 GiB, which a single-file ONNX model cannot be'
          : err.message;
    throw new TwinLensError(
      'ONNX_LOAD_FAILED',
      `Cannot read ONNX model ${modelPath}: ${why}`,
      'Check the path in pack.json and that the file was fully downloaded.',
      { cause: e },
    );
  }
  return scanModelBytes(bytes, modelPath);
}

export function scanModelBytes(bytes: Buffer, modelPath: string): ModelScan {
  const fail = (what: string, cause?: unknown): never => {
    throw new TwinLensError(
      'ONNX_LOAD_FAILED',
      `${modelPath} is not a readable ONNX model: ${what} (file size ${bytes.length} bytes)`,
      'Re-download or re-export the model; a truncated download or a Git LFS pointer file looks like this.',
      { cause },
    );
  };
  if (bytes.length === 0) fail('the file is empty');
  if (bytes.subarray(0, 24).toString('latin1').startsWith('version https://git-lfs')) fail('it is a Git LFS pointer, not the model');
  try {
    const top = walkFields(bytes);
    const index: GraphIndex = {
      modelPath,
      fileBytes: bytes.length,
      irVersion: 0,
      producer: '',
      opsets: [],
      graphName: '',
      nodes: [],
      inputs: [],
      outputs: [],
      valueInfo: [],
      initializers: [],
      sparseInitializers: [],
      usesExternalData: false,
      externalDataFiles: [],
    };
    const graph: GraphFieldRef[] = [];
    let graphCount = 0;
    for (const span of top) {
      if (span.field === 1) index.irVersion = varintOf(bytes, span);
      else if (span.field === 2) index.producer = stringOf(bytes, span);
      else if (span.field === 8 && span.wire === WIRE_LEN) {
        const o = onnx.OperatorSetIdProto.decode(payloadOf(bytes, span));
        index.opsets.push({ domain: o.domain ?? '', version: toNumber(o.version) });
      } else if (span.field === 7 && span.wire === WIRE_LEN) {
        graphCount++;
        for (const f of walkFields(bytes, span.dataStart, span.end)) graph.push(indexGraphField(bytes, f, index));
      }
    }
    if (graphCount === 0) fail('it has no graph (ModelProto field 7)');
    if (index.irVersion <= 0) fail('it has no ir_version');
    index.externalDataFiles = [...new Set(index.initializers.filter((i) => i.location).map((i) => i.location as string))];
    index.usesExternalData = index.initializers.some((i) => i.external);
    return { index, bytes, top, graph };
  } catch (e) {
    if (e instanceof TwinLensError) throw e;
    if (e instanceof ProtoWalkError) return fail(e.truncated ? `the protobuf ends early at byte ${e.offset} (truncated file)` : e.message, e);
    return fail(`the protobuf could not be decoded (${(e as Error).message})`, e);
  }
}

function indexGraphField(bytes: Buffer, span: FieldSpan, index: GraphIndex): GraphFieldRef {
  const kind = span.wire === WIRE_LEN ? (GRAPH_FIELD_KINDS[span.field] ?? 'other') : 'other';
  const at = (ref: number): GraphFieldRef => ({ ...span, kind, ref });
  if (span.field === 2 && span.wire === WIRE_LEN) index.graphName = stringOf(bytes, span);
  switch (kind) {
    case 'node': {
      const n = onnx.NodeProto.decode(payloadOf(bytes, span));
      const node: GraphNode = { name: n.name ?? '', opType: n.opType ?? '', domain: n.domain ?? '', inputs: [...n.input], outputs: [...n.output] };
      const implicit = subgraphOuterRefs(n);
      if (implicit.length > 0) node.implicitInputs = implicit;
      index.nodes.push(node);
      return at(index.nodes.length - 1);
    }
    case 'initializer':
      index.initializers.push(readTensorHeader(bytes, span));
      return at(index.initializers.length - 1);
    case 'input':
    case 'output':
    case 'valueInfo': {
      const list = kind === 'input' ? index.inputs : kind === 'output' ? index.outputs : index.valueInfo;
      list.push(toGraphValue(onnx.ValueInfoProto.decode(payloadOf(bytes, span))));
      return at(list.length - 1);
    }
    case 'sparseInitializer': {
      // SparseTensorProto: values (1) is a TensorProto whose name is the initializer's name.
      const values = walkFields(bytes, span.dataStart, span.end).find((f) => f.field === 1 && f.wire === WIRE_LEN);
      index.sparseInitializers.push(values ? readTensorHeader(bytes, values).name : '');
      return at(index.sparseInitializers.length - 1);
    }
    default:
      return at(-1);
  }
}

/** Reads a TensorProto's name, type, dims and data location; skips raw_data (field 9) by length. */
function readTensorHeader(bytes: Buffer, span: FieldSpan): GraphInitializer {
  const t: GraphInitializer = { name: '', elementType: 'undefined', dims: [], external: false, inlineBytes: 0 };
  for (const f of walkFields(bytes, span.dataStart, span.end)) {
    if (f.field === 1) t.dims.push(...int64sOf(bytes, f));
    else if (f.field === 2) t.elementType = elementTypeName(varintOf(bytes, f));
    else if (f.field === 8) t.name = stringOf(bytes, f);
    else if (f.field === 9) t.inlineBytes = f.end - f.dataStart;
    else if (f.field === 14) t.external = varintOf(bytes, f) === onnx.TensorProto.DataLocation.EXTERNAL;
    else if (f.field === 13 && f.wire === WIRE_LEN) {
      const entry = onnx.StringStringEntryProto.decode(payloadOf(bytes, f));
      if (entry.key === 'location') t.location = entry.value ?? undefined;
    }
  }
  return t;
}

function toGraphValue(v: InstanceType<typeof onnx.ValueInfoProto>): GraphValue {
  const out: GraphValue = { name: v.name ?? '' };
  const tensor = v.type?.tensorType;
  if (tensor) {
    if (tensor.elemType) out.elementType = elementTypeName(tensor.elemType);
    if (tensor.shape) {
      out.dims = (tensor.shape.dim ?? []).map((d) => (d.dimValue != null ? toNumber(d.dimValue) : d.dimParam != null ? d.dimParam : null));
    }
  }
  return out;
}

type GraphLike = {
  input?: Array<{ name?: string | null }> | null;
  initializer?: Array<{ name?: string | null }> | null;
  node?: Array<{ input?: string[] | null; output?: string[] | null; attribute?: AttrLike[] | null }> | null;
};
type AttrLike = { g?: GraphLike | null; graphs?: GraphLike[] | null };

/** Names a node's subgraph attributes read from the enclosing graph (they are real dependencies). */
function subgraphOuterRefs(node: { attribute?: AttrLike[] | null }): string[] {
  const refs = new Set<string>();
  for (const a of node.attribute ?? []) {
    for (const g of [a.g, ...(a.graphs ?? [])]) if (g) for (const r of graphOuterRefs(g)) refs.add(r);
  }
  return [...refs];
}

function graphOuterRefs(g: GraphLike): string[] {
  const defined = new Set<string>();
  for (const i of g.input ?? []) if (i.name) defined.add(i.name);
  for (const i of g.initializer ?? []) if (i.name) defined.add(i.name);
  const refs = new Set<string>();
  for (const n of g.node ?? []) {
    const used = [...(n.input ?? []), ...subgraphOuterRefs(n)];
    for (const name of used) if (name && !defined.has(name)) refs.add(name);
    for (const o of n.output ?? []) if (o) defined.add(o);
  }
  return [...refs];
}
