/**
 * One ONNX file of a published export, as the importers see it: its graph
 * inputs and outputs with dtypes and shapes, the external-data files it needs
 * (one `weights.pb`, one `model.onnx_data`, sharded `.onnx_data_N`, or one file
 * per tensor), and how many bytes it occupies on disk in total.
 *
 * Why: every importer decision — the timestep dtype, float16 I/O, the KV-cache
 * dtype, which files to link into a pack, what loading will cost — comes from
 * this, and reading it must not touch the weights (graph-only scan).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { TwinLensError } from '../../shared/errors.js';
import { type GraphIndex, type GraphValue, feedInputs, readGraphIndex } from '../graph/onnx-index.js';

export interface OnnxComponent {
  /** Absolute path of the .onnx file. */
  model: string;
  /** External-data files, relative to the model's folder. */
  externalData: string[];
  /** Bytes of the .onnx file itself. */
  modelBytes: number;
  /** Bytes of the .onnx file plus all its external data. */
  totalBytes: number;
  /** Inputs the caller feeds (initializers excluded). */
  inputs: GraphValue[];
  outputs: GraphValue[];
  /** Bytes of all initializers by element type (weights), from the graph. */
  weightBytes: number;
  index: GraphIndex;
}

const ELEMENT_BYTES: Record<string, number> = {
  float32: 4,
  float16: 2,
  bfloat16: 2,
  float64: 8,
  int64: 8,
  int32: 4,
  int16: 2,
  int8: 1,
  uint8: 1,
  uint16: 2,
  uint32: 4,
  uint64: 8,
  bool: 1,
  int4: 0.5,
  uint4: 0.5,
  float8e4m3fn: 1,
  float8e4m3fnuz: 1,
  float8e5m2: 1,
  float8e5m2fnuz: 1,
};

export function elementBytes(type: string | undefined): number {
  return ELEMENT_BYTES[type ?? ''] ?? 4;
}

/** Bytes of the initializers (by dims × element size), whether inline or external. */
export function initializerBytes(index: GraphIndex, names?: ReadonlySet<string>): number {
  let total = 0;
  for (const t of index.initializers) {
    if (names && !names.has(t.name)) continue;
    total += t.dims.reduce((a, b) => a * b, 1) * elementBytes(t.elementType);
  }
  return total;
}

function fileSize(file: string): number {
  try {
    return fs.statSync(file).size;
  } catch {
    return -1;
  }
}

/** Reads an ONNX file's graph (without weights) and checks its external data exists. */
export async function readOnnxComponent(model: string, label: string): Promise<OnnxComponent> {
  if (!fs.existsSync(model)) {
    throw new TwinLensError('PACK_FILE_MISSING', `${label}: ${model} does not exist`, 'Check the folder layout of the export (REFERENCE.md A1.1)');
  }
  const index = await readGraphIndex(model);
  const dir = path.dirname(model);
  const modelBytes = fileSize(model);
  let totalBytes = modelBytes;
  const missing: string[] = [];
  for (const rel of index.externalDataFiles) {
    const abs = path.resolve(dir, rel);
    if (path.relative(dir, abs).startsWith('..')) {
      throw new TwinLensError(
        'PACK_PATH_ESCAPE',
        `${label}: external data "${rel}" of ${model} lies outside its folder`,
        'Re-export the model with its weights beside it',
      );
    }
    const size = fileSize(abs);
    if (size < 0) missing.push(rel);
    else totalBytes += size;
  }
  if (missing.length) {
    throw new TwinLensError(
      'PACK_FILE_MISSING',
      `${label}: ${path.basename(model)} needs external data ${missing.slice(0, 4).join(', ')}${missing.length > 4 ? ` and ${missing.length - 4} more` : ''}, missing from ${dir}`,
      'Download the weights file(s) next to model.onnx (weights.pb or model.onnx_data)',
    );
  }
  return {
    model,
    externalData: [...index.externalDataFiles],
    modelBytes,
    totalBytes,
    inputs: feedInputs(index),
    outputs: index.outputs,
    weightBytes: initializerBytes(index),
    index,
  };
}

export function inputOf(c: OnnxComponent, name: string): GraphValue | undefined {
  return c.inputs.find((v) => v.name === name);
}

export function outputOf(c: OnnxComponent, name: string): GraphValue | undefined {
  return c.outputs.find((v) => v.name === name);
}

/** Human size: 1.7 GB, 493 MB, 12 kB. */
export function formatBytes(n: number): string {
  if (n < 0) return '?';
  const units = ['B', 'kB', 'MB', 'GB', 'TB'];
  let i = 0;
  let v = n;
  while (v >= 1000 && i < units.length - 1) {
    v /= 1000;
    i++;
  }
  return `${v >= 100 || i === 0 ? v.toFixed(0) : v.toFixed(v >= 10 ? 1 : 2)} ${units[i]}`;
}

/** transformers.js file-name suffixes of the published precision variants. */
export const ONNX_VARIANTS = ['fp32', 'fp16', 'q4f16', 'q4', 'int8', 'uint8', 'quantized', 'bnb4'] as const;
export type OnnxVariant = (typeof ONNX_VARIANTS)[number];

export function variantFile(base: string, variant: OnnxVariant): string {
  return variant === 'fp32' ? `${base}.onnx` : `${base}_${variant}.onnx`;
}

/**
 * Picks `<dir>/<base>[_variant].onnx`: the requested variant, or the first that
 * exists in ONNX_VARIANTS order (fp32 first: it runs everywhere). Throws with
 * the variants present when the requested one is absent.
 */
export function pickVariant(dir: string, base: string, variant: OnnxVariant | undefined, label: string): { file: string; variant: OnnxVariant } {
  const present = ONNX_VARIANTS.filter((v) => fs.existsSync(path.join(dir, variantFile(base, v))));
  if (variant) {
    if (present.includes(variant)) return { file: path.join(dir, variantFile(base, variant)), variant };
    throw new TwinLensError(
      'PACK_FILE_MISSING',
      `${label}: ${variantFile(base, variant)} is not in ${dir}`,
      present.length ? `Variants present: ${present.join(', ')}` : `Expected ${base}.onnx (transformers.js layout: onnx/${base}*.onnx)`,
    );
  }
  if (!present.length) {
    throw new TwinLensError(
      'PACK_FILE_MISSING',
      `${label}: no ${base}*.onnx in ${dir}`,
      'Expected the transformers.js layout (onnx/ folder); download the ONNX files too',
    );
  }
  return { file: path.join(dir, variantFile(base, present[0])), variant: present[0] };
}
