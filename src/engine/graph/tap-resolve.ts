/**
 * THE place where a tap alias becomes a tensor name: `resolveTap` turns what a
 * user or a pack asks for (a study alias, a module path, a node name or an
 * exact tensor name) into the name of a tensor in a given graph. The alias
 * grammar (alias → module path) is tap-alias.ts; module path → its output node
 * is module-scope.ts; both are called from here and nowhere else on this path.
 *
 * Rules, in order:
 *  1. an exact tensor name produced by a node wins;
 *  2. the pack's taps map (manifest `diffusion.taps`: alias → module path or
 *     tensor name) beats the alias grammar;
 *  3. a study alias resolves through its diffusers module path;
 *  4. a node name resolves to that node's first output;
 *  5. a module path resolves to the module's output, i.e. output[0] of the last
 *     node (in file order) inside `/<module path>/` (with or without a leading
 *     slash or a `/unet` wrapper).
 * Anything else is TAP_NOT_FOUND with the five nearest names the graph knows.
 * `findTensors` selects many tensors by regex (cross-attention probabilities).
 */
import { basename } from 'node:path';
import { TwinLensError } from '../../shared/errors.js';
import { graphLookup, knownModulePaths, moduleOutputNode, moduleScopeKey, nodeModulePath } from './module-scope.js';
import { nearestNames } from './nearest.js';
import type { GraphIndex } from './onnx-index.js';
import { type AliasOptions, type ParsedTapAlias, listGraphTaps, parseTapAlias } from './tap-alias.js';

export interface TapResolveOptions extends AliasOptions {
  /** The pack's taps map: alias (or any name) → module path or tensor name. Beats the alias grammar. */
  overrides?: Record<string, string>;
}

export type TapSource = 'tensor' | 'override' | 'alias' | 'node' | 'module';

export interface ResolvedTap {
  /** What was asked for. */
  request: string;
  tensorName: string;
  nodeName: string;
  opType: string;
  /** Module the tensor belongs to (dotted), '' for unscoped nodes. */
  modulePath: string;
  /** Canonical alias when the request was one. */
  alias?: string;
  source: TapSource;
}

export interface TensorMatch {
  tensorName: string;
  nodeName: string;
  opType: string;
  /** Dotted module path of the producing node, e.g. `up_blocks.1.attentions.1.transformer_blocks.0.attn2`. */
  modulePath: string;
  nodeIndex: number;
}

const LIST_HINT = "Run `twinlens features --list-taps` to list the taps this graph has, or check the pack's taps map (diffusion.taps in pack.json).";
const FUSED_OPS = new Set(['MultiHeadAttention', 'Attention', 'GroupQueryAttention', 'GroupNorm', 'SkipGroupNorm', 'BiasSplitGelu']);

/** Resolves one tap; throws TAP_NOT_FOUND with the nearest candidates. */
export function resolveTap(index: GraphIndex, request: string, opts: TapResolveOptions = {}): ResolvedTap {
  const name = request.trim();
  if (!name) throw new TwinLensError('INVALID_ARGUMENT', 'An empty tap name was given', LIST_HINT);
  const lookup = graphLookup(index);
  const byTensor = lookup.producer.get(name);
  if (byTensor !== undefined) return fromNode(index, name, byTensor, 'tensor', name);

  const aliasOpts = { clipNumLayers: opts.clipNumLayers ?? clipLayerCount(index) };
  const parsed = safeParse(name, aliasOpts);
  const overrides = opts.overrides ?? {};
  const overrideKey = name in overrides ? name : parsed && parsed.alias in overrides ? parsed.alias : undefined;
  if (overrideKey !== undefined) {
    const target = overrides[overrideKey].trim();
    const hit = resolveTarget(index, target, aliasOpts);
    if (!hit) {
      throw notFound(
        index,
        name,
        `the pack's taps map sends "${overrideKey}" to "${target}", which is neither a tensor, a node nor a module with nodes in this graph`,
        opts,
      );
    }
    return { ...hit, request, source: 'override', ...(parsed ? { alias: parsed.alias } : {}) };
  }

  if (parsed) {
    const node = moduleOutputNode(index, parsed.modulePath);
    if (node === undefined) {
      const fused = index.nodes.some((n) => FUSED_OPS.has(n.opType));
      const note = fused ? '; the graph contains fused attention/GroupNorm ops, so it looks optimized: use an unoptimized fp32 export' : '';
      throw notFound(index, name, `alias ${parsed.alias} means module ${parsed.modulePath}, which has no nodes in this graph${note}`, opts);
    }
    return { ...fromNode(index, name, node, 'alias', index.nodes[node].outputs[0]), alias: parsed.alias };
  }

  const hit = resolveTarget(index, name, aliasOpts);
  if (hit) return { ...hit, request };
  throw notFound(index, name, 'it is not a tensor, node, module path or tap alias of this graph', opts);
}

/** Every node output whose name matches, in node order, with the module it belongs to. */
export function findTensors(index: GraphIndex, pattern: RegExp | string): TensorMatch[] {
  let re: RegExp;
  try {
    re = typeof pattern === 'string' ? new RegExp(pattern) : new RegExp(pattern.source, pattern.flags.replace(/[gy]/g, ''));
  } catch (e) {
    throw new TwinLensError(
      'INVALID_ARGUMENT',
      `Invalid tensor-name pattern ${String(pattern)}: ${(e as Error).message}`,
      'Use a JavaScript regular expression such as attn2/Softmax_output_0$.',
    );
  }
  const out: TensorMatch[] = [];
  index.nodes.forEach((node, nodeIndex) => {
    for (const tensorName of node.outputs) {
      if (tensorName && re.test(tensorName)) {
        out.push({ tensorName, nodeName: node.name, opType: node.opType, modulePath: nodeModulePath(node.name), nodeIndex });
      }
    }
  });
  return out;
}

/**
 * The `count` names nearest to a request among the graph's aliases, module
 * paths and tensor names (and the pack's override keys).
 */
export function tapCandidates(index: GraphIndex, request: string, count = 5, opts: TapResolveOptions = {}): string[] {
  function* pool(): Generator<string> {
    for (const t of listGraphTaps(index)) yield t.alias;
    yield* Object.keys(opts.overrides ?? {});
    yield* knownModulePaths(index);
    for (const n of index.nodes) yield* n.outputs;
  }
  return nearestNames(request, pool(), count);
}

/** A tensor name, node name, alias (without overrides) or module path, resolved; undefined when absent. */
function resolveTarget(index: GraphIndex, target: string, aliasOpts: AliasOptions): Omit<ResolvedTap, 'request'> | undefined {
  const lookup = graphLookup(index);
  const byTensor = lookup.producer.get(target);
  if (byTensor !== undefined) return fromNode(index, target, byTensor, 'tensor', target);
  const parsed = safeParse(target, aliasOpts);
  if (parsed) {
    const node = moduleOutputNode(index, parsed.modulePath);
    return node === undefined ? undefined : { ...fromNode(index, target, node, 'alias', index.nodes[node].outputs[0]), alias: parsed.alias };
  }
  const byName = lookup.nodeByName.get(target);
  if (byName !== undefined && index.nodes[byName].outputs[0]) return fromNode(index, target, byName, 'node', index.nodes[byName].outputs[0]);
  if (!moduleScopeKey(target)) return undefined;
  const node = moduleOutputNode(index, target);
  return node === undefined ? undefined : fromNode(index, target, node, 'module', index.nodes[node].outputs[0]);
}

function fromNode(index: GraphIndex, request: string, nodeIndex: number, source: TapSource, tensorName: string): ResolvedTap {
  const node = index.nodes[nodeIndex];
  return { request, tensorName, nodeName: node.name, opType: node.opType, modulePath: nodeModulePath(node.name), source };
}

function safeParse(name: string, opts: AliasOptions): ParsedTapAlias | undefined {
  try {
    return parseTapAlias(name, opts);
  } catch (e) {
    // CLIP-penultimate without a layer count: not resolvable here, report it as such.
    if (e instanceof TwinLensError && e.code === 'INVALID_ARGUMENT') throw new TwinLensError('TAP_NOT_FOUND', e.message, e.hint);
    throw e;
  }
}

/** Number of CLIP encoder layers visible in the graph (0 when none). */
function clipLayerCount(index: GraphIndex): number | undefined {
  let max = -1;
  for (const path of knownModulePaths(index)) {
    const m = /^vision_model\.encoder\.layers\.(\d+)$/.exec(path);
    if (m) max = Math.max(max, Number(m[1]));
  }
  return max >= 0 ? max + 1 : undefined;
}

function notFound(index: GraphIndex, request: string, reason: string, opts: TapResolveOptions): TwinLensError {
  const near = tapCandidates(index, request, 5, opts);
  const list = near.length > 0 ? ` Nearest: ${near.join(', ')}.` : '';
  return new TwinLensError('TAP_NOT_FOUND', `Tap "${request}" was not found in ${basename(index.modelPath)}: ${reason}.${list}`, LIST_HINT);
}
