/**
 * Graph surgery: expose intermediate tensors as graph outputs, optionally prune
 * everything they do not need, and write the result beside the original model.
 *
 * ONNX Runtime can only fetch graph outputs, and no public UNet export lists
 * the study's taps as outputs, so the engine edits the graph itself. The edit
 * is lossless for everything it does not touch:
 *  - adding outputs appends an encoded `ModelProto{graph{output:[{name}]}}` to
 *    the original bytes, a protobuf merge that ONNX Runtime reads as extra
 *    graph outputs, so every other byte is the original's;
 *  - pruning rewrites only the GraphProto, copying each kept node, initializer,
 *    input, output and value_info field byte for byte, and copies every other
 *    ModelProto / GraphProto field (opsets, metadata, functions, fields newer
 *    than onnx-proto's ONNX 1.10 schema) untouched.
 * Name-only ValueInfoProto outputs are accepted by ONNX Runtime. External
 * weights are never copied: the result lives in the same folder (edit-cache.ts).
 */
import onnxProto from 'onnx-proto';
import { TwinLensError, throwIfAborted } from '../../shared/errors.js';
import { type StoreRequest, type EditCacheIo, defaultEditCacheIo, editKey, storeEditedGraph } from './edit-cache.js';
import { graphLookup } from './module-scope.js';
import { type GraphIndex, type ModelScan, feedInputs, scanModelFile } from './onnx-index.js';
import { ByteChunks, WIRE_LEN, encodeLenField, encodeLenHeader, rawField } from './proto-fields.js';
import { tapCandidates } from './tap-resolve.js';

const { onnx } = onnxProto;

/** Bump when the bytes an identical request produces change, so old cache entries are not reused. */
const EDIT_FORMAT = 1;

export interface EditGraphOptions {
  /** Tensor names (already resolved, see tap-resolve.ts) to expose as graph outputs. */
  addOutputs: readonly string[];
  /** Keep only what the requested outputs (plus keepOutputs) need. */
  prune?: boolean;
  /** Original graph outputs to keep when pruning (e.g. `out_sample`). */
  keepOutputs?: readonly string[];
  /** Fallback folder when the model's folder is read-only (inline-weight models only). */
  cacheDir?: string;
  signal?: AbortSignal;
  /** Test seam for the file system writes. */
  io?: EditCacheIo;
}

export interface EditedGraph {
  /** Model to load: the edited graph, or the original when nothing had to change. */
  path: string;
  /** Graph outputs of the model at `path`, in order. */
  outputs: string[];
  /** Graph inputs the caller must feed (initializers excluded). */
  inputs: string[];
  /** False when the original already had every requested output and nothing was pruned. */
  edited: boolean;
  /** An earlier identical edit was found and reused. */
  reused: boolean;
  nodeCount: number;
  removedNodes: number;
}

/** Which nodes and tensors the wanted outputs need. */
export interface PrunePlan {
  keepNode: boolean[];
  /** Every tensor a kept node reads, plus the wanted outputs. */
  needed: Set<string>;
  /** needed ∪ every output of a kept node. */
  live: Set<string>;
}

/** Walks nodes backwards (file order is topological) marking producers of needed tensors. */
export function planPrune(index: GraphIndex, wanted: Iterable<string>): PrunePlan {
  const needed = new Set<string>(wanted);
  const keepNode = new Array<boolean>(index.nodes.length).fill(false);
  for (let i = index.nodes.length - 1; i >= 0; i--) {
    const node = index.nodes[i];
    if (!node.outputs.some((o) => o && needed.has(o))) continue;
    keepNode[i] = true;
    for (const name of node.inputs) if (name) needed.add(name);
    for (const name of node.implicitInputs ?? []) needed.add(name);
  }
  const live = new Set(needed);
  index.nodes.forEach((node, i) => {
    if (keepNode[i]) for (const o of node.outputs) if (o) live.add(o);
  });
  return { keepNode, needed, live };
}

/** Produces (or reuses) a model with the requested tensors as extra graph outputs. */
export async function editGraph(modelPath: string, options: EditGraphOptions): Promise<EditedGraph> {
  throwIfAborted(options.signal, 'Graph editing');
  const scan = await scanModelFile(modelPath);
  throwIfAborted(options.signal, 'Graph editing');
  const { index } = scan;
  const add = checkRequested(index, options.addOutputs);
  const original = index.outputs.map((o) => o.name);
  const keep = [...new Set(options.keepOutputs ?? [])];
  const unknownKeep = keep.filter((k) => !original.includes(k));
  if (unknownKeep.length > 0) {
    throw new TwinLensError(
      'INVALID_ARGUMENT',
      `keepOutputs names ${unknownKeep.join(', ')}, which ${unknownKeep.length === 1 ? 'is not a graph output' : 'are not graph outputs'} of ${modelPath}`,
      `The graph outputs are: ${original.join(', ') || '(none)'}.`,
    );
  }
  const prune = options.prune ?? false;
  const newOutputs = add.filter((n) => !original.includes(n));

  let chunks: ByteChunks;
  let outputs: string[];
  let inputs = feedInputs(index).map((v) => v.name);
  let removedNodes = 0;
  if (!prune) {
    if (newOutputs.length === 0) {
      return { path: modelPath, outputs: original, inputs, edited: false, reused: true, nodeCount: index.nodes.length, removedNodes: 0 };
    }
    const appended = onnx.ModelProto.encode({ graph: { output: newOutputs.map((name) => ({ name })) } }).finish();
    chunks = new ByteChunks().push(scan.bytes).push(appended);
    outputs = [...original, ...newOutputs];
  } else {
    const keptOriginal = original.filter((o) => keep.includes(o) || add.includes(o));
    outputs = [...keptOriginal, ...newOutputs];
    if (outputs.length === 0) {
      throw new TwinLensError('INVALID_ARGUMENT', 'Pruning was asked for with no outputs to keep', 'Pass at least one tensor in addOutputs or keepOutputs.');
    }
    const plan = planPrune(index, outputs);
    chunks = rebuildPruned(scan, plan, new Set(keptOriginal), newOutputs);
    removedNodes = plan.keepNode.filter((k) => !k).length;
    const weights = new Set(index.initializers.map((t) => t.name));
    inputs = index.inputs.filter((v) => plan.needed.has(v.name) && !weights.has(v.name)).map((v) => v.name);
  }

  const request = { format: EDIT_FORMAT, add, prune, keep: prune ? [...keep].sort() : [] };
  const store: StoreRequest = {
    modelPath,
    key: editKey(scan.bytes, request),
    cacheDir: options.cacheDir,
    usesExternalData: index.usesExternalData,
    externalDataFiles: index.externalDataFiles,
  };
  throwIfAborted(options.signal, 'Graph editing');
  const stored = await storeEditedGraph(chunks, store, options.io ?? defaultEditCacheIo);
  return { path: stored.path, outputs, inputs, edited: true, reused: stored.reused, nodeCount: index.nodes.length - removedNodes, removedNodes };
}

/** Trims and de-duplicates requested names; each must be a tensor of the graph. */
function checkRequested(index: GraphIndex, requested: readonly string[]): string[] {
  if (!Array.isArray(requested)) {
    throw new TwinLensError(
      'INVALID_ARGUMENT',
      'addOutputs must be an array of tensor names',
      'Pass e.g. { addOutputs: ["/up_blocks.1/.../to_q/MatMul_output_0"] }.',
    );
  }
  const lookup = graphLookup(index);
  const out: string[] = [];
  for (const raw of requested) {
    const name = typeof raw === 'string' ? raw.trim() : '';
    if (!name)
      throw new TwinLensError(
        'INVALID_ARGUMENT',
        `addOutputs contains an empty or non-string entry (${JSON.stringify(raw)})`,
        'Pass tensor names resolved with resolveTap().',
      );
    if (!lookup.producer.has(name) && !lookup.sources.has(name)) {
      const near = tapCandidates(index, name, 5);
      throw new TwinLensError(
        'TAP_NOT_FOUND',
        `Cannot add output "${name}" to ${index.modelPath}: no node produces a tensor of that name.${near.length ? ` Nearest: ${near.join(', ')}.` : ''}`,
        'Resolve aliases and module paths with resolveTap() first, or run `twinlens features --list-taps`.',
      );
    }
    if (!out.includes(name)) out.push(name);
  }
  return out;
}

/** Re-emits the model with one rewritten GraphProto; every other field is copied verbatim. */
function rebuildPruned(scan: ModelScan, plan: PrunePlan, keptOriginal: Set<string>, newOutputs: string[]): ByteChunks {
  const { bytes, index } = scan;
  const graph = new ByteChunks();
  for (const f of scan.graph) {
    let keep: boolean;
    switch (f.kind) {
      case 'node':
        keep = plan.keepNode[f.ref];
        break;
      case 'initializer':
        keep = plan.needed.has(index.initializers[f.ref].name);
        break;
      case 'input':
        keep = plan.needed.has(index.inputs[f.ref].name);
        break;
      case 'output':
        keep = keptOriginal.has(index.outputs[f.ref].name);
        break;
      case 'valueInfo':
        keep = plan.live.has(index.valueInfo[f.ref].name);
        break;
      case 'sparseInitializer':
        keep = plan.needed.has(index.sparseInitializers[f.ref]);
        break;
      default:
        keep = true;
    }
    if (keep) graph.push(rawField(bytes, f));
  }
  for (const name of newOutputs) graph.push(encodeLenField(12, onnx.ValueInfoProto.encode({ name }).finish()));

  // Several `graph` occurrences (an earlier append-edit) merge into the one written at the first's place.
  const model = new ByteChunks();
  let graphWritten = false;
  for (const span of scan.top) {
    if (span.field === 7 && span.wire === WIRE_LEN) {
      if (graphWritten) continue;
      graphWritten = true;
      model.push(encodeLenHeader(7, graph.length)).append(graph);
    } else {
      model.push(rawField(bytes, span));
    }
  }
  return model;
}
