/**
 * How exporters spell PyTorch module paths inside ONNX node names.
 *
 * torch.onnx names a node `/<module path>/<Op>` with one name segment per
 * module attribute and list indices glued to their list:
 * `up_blocks.1.attentions.1.transformer_blocks.0.attn2.to_q` (diffusers'
 * dotted path) becomes the scope `/up_blocks.1/attentions.1/transformer_blocks.0/attn2/to_q/`
 * and its MatMul is `/up_blocks.1/.../to_q/MatMul` with output `..._output_0`.
 * Some exporters wrap the whole model (`/unet/...`) or drop the leading slash.
 * This file converts between the two spellings and builds, once per graph, the
 * lookup tables tap resolution needs: which node produces each tensor and which
 * node is the last one inside each module scope.
 */
import type { GraphIndex } from './onnx-index.js';

/** Wrapper segments some exporters put in front of every scope; stripped before matching. */
export const SCOPE_WRAPPERS: readonly string[] = ['unet'];

/** Scope segments of a node name, wrapper stripped, op name (last segment) dropped. */
export function nodeScope(nodeName: string): string[] {
  const parts = nodeName.split('/').filter((p) => p.length > 0);
  parts.pop();
  if (parts.length > 1 && SCOPE_WRAPPERS.includes(parts[0])) parts.shift();
  return parts;
}

/** Every enclosing scope key of a node, outermost first: `/a/b.1/c/Op` → a, a/b.1, a/b.1/c. */
function scopePrefixes(nodeName: string): string[] {
  let name = nodeName;
  while (name.startsWith('/')) name = name.slice(1);
  const first = name.indexOf('/');
  if (first > 0 && SCOPE_WRAPPERS.includes(name.slice(0, first)) && name.indexOf('/', first + 1) > 0) name = name.slice(first + 1);
  if (name.includes('//')) {
    const segments = nodeScope(nodeName);
    return segments.map((_, i) => segments.slice(0, i + 1).join('/'));
  }
  const keys: string[] = [];
  for (let at = name.indexOf('/'); at > 0; at = name.indexOf('/', at + 1)) keys.push(name.slice(0, at));
  return keys;
}

/**
 * Scope key (segments joined by '/') of a module path given either dotted
 * (`up_blocks.1.attentions.1`) or slash-separated (`/unet/up_blocks.1/attentions.1/`).
 */
export function moduleScopeKey(modulePath: string): string {
  const trimmed = modulePath.trim();
  let segments: string[];
  if (trimmed.includes('/')) {
    segments = trimmed.split('/').filter((p) => p.length > 0);
  } else {
    segments = [];
    for (const token of trimmed.split('.').filter((p) => p.length > 0)) {
      if (/^\d+$/.test(token) && segments.length > 0) segments[segments.length - 1] += `.${token}`;
      else segments.push(token);
    }
  }
  if (segments.length > 1 && SCOPE_WRAPPERS.includes(segments[0])) segments.shift();
  return segments.join('/');
}

/** Dotted module path (diffusers spelling) of a scope key. */
export function scopeKeyToModulePath(key: string): string {
  return key.split('/').join('.');
}

/** Dotted module path of the module a node belongs to ('' for unscoped nodes). */
export function nodeModulePath(nodeName: string): string {
  return nodeScope(nodeName).join('.');
}

/** Per-graph lookup tables, built once and cached by GraphIndex identity. */
export interface GraphLookup {
  /** Tensor name → index of the node producing it. */
  producer: Map<string, number>;
  /** Node name → node index (first node with that name). */
  nodeByName: Map<string, number>;
  /** Scope key → index of the last non-Constant node inside that scope. */
  lastInScope: Map<string, number>;
  /** Tensor names that exist without a producer: graph inputs and initializers. */
  sources: Set<string>;
}

const lookups = new WeakMap<GraphIndex, GraphLookup>();

export function graphLookup(index: GraphIndex): GraphLookup {
  const cached = lookups.get(index);
  if (cached) return cached;
  const producer = new Map<string, number>();
  const nodeByName = new Map<string, number>();
  const lastInScope = new Map<string, number>();
  index.nodes.forEach((node, i) => {
    for (const o of node.outputs) if (o) producer.set(o, i);
    if (node.name && !nodeByName.has(node.name)) nodeByName.set(node.name, i);
    // A Constant is never a module's output, even when the exporter emits it last in the scope.
    if (node.opType === 'Constant' || node.outputs.length === 0) return;
    for (const key of scopePrefixes(node.name)) lastInScope.set(key, i);
  });
  const sources = new Set<string>([...index.inputs.map((v) => v.name), ...index.initializers.map((t) => t.name)]);
  const lookup = { producer, nodeByName, lastInScope, sources };
  lookups.set(index, lookup);
  return lookup;
}

/** The node whose output[0] is the module's output: the last node inside its scope. */
export function moduleOutputNode(index: GraphIndex, modulePath: string): number | undefined {
  const key = moduleScopeKey(modulePath);
  return key ? graphLookup(index).lastInScope.get(key) : undefined;
}

/** Every module path (dotted) that has at least one node, in first-seen order. */
export function knownModulePaths(index: GraphIndex): string[] {
  return [...graphLookup(index).lastInScope.keys()].map(scopeKeyToModulePath);
}
