/**
 * Reads a CLIP vision encoder published in the transformers.js layout
 * (`onnx/vision_model[_variant].onnx`, `preprocessor_config.json`,
 * `config.json`), e.g. Xenova/clip-vit-base-patch32.
 *
 * Why: LLaVA-1.5 feeds the LLM the penultimate encoder layer's patch tokens,
 * which no public export lists as an output (REFERENCE.md A2). The engine
 * reaches it by graph surgery on `vision_model.encoder.layers.{N-2}`; this
 * reader finds N (config, else the graph), checks that module exists in the
 * graph, and falls back to `last_hidden_state` with a note when it does not.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { TwinLensError } from '../../shared/errors.js';
import { knownModulePaths } from '../graph/module-scope.js';
import { resolveTap } from '../graph/tap-resolve.js';
import { type OnnxComponent, type OnnxVariant, outputOf, pickVariant, readOnnxComponent } from './onnx-component.js';

export interface ClipFolder {
  dir: string;
  vision: OnnxComponent;
  variant: OnnxVariant;
  /** Relative to dir. */
  files: { vision: string; preprocessor: string; config?: string };
  numLayers: number;
  hiddenSize?: number;
  /** 'penultimate' when the layer module resolves in the graph, else 'last'. */
  layer: 'penultimate' | 'last';
  penultimateTensor?: string;
  imageSize?: number;
  notes: string[];
}

interface ClipConfigJson {
  model_type?: string;
  num_hidden_layers?: number;
  hidden_size?: number;
  image_size?: number;
  vision_config?: { num_hidden_layers?: number; hidden_size?: number; image_size?: number };
}

function graphLayerCount(vision: OnnxComponent): number | undefined {
  let max = -1;
  for (const p of knownModulePaths(vision.index)) {
    const m = /(?:^|\.)encoder\.layers\.(\d+)$/.exec(p);
    if (m) max = Math.max(max, Number(m[1]));
  }
  return max >= 0 ? max + 1 : undefined;
}

export async function readClipFolder(dirIn: string, variant?: OnnxVariant): Promise<ClipFolder> {
  const dir = path.resolve(dirIn);
  if (!fs.existsSync(dir))
    throw new TwinLensError('PACK_NOT_FOUND', `CLIP folder ${dir} does not exist`, 'Pass the folder that contains onnx/vision_model.onnx');
  const onnxDir = fs.existsSync(path.join(dir, 'onnx')) ? path.join(dir, 'onnx') : dir;
  if (!fs.existsSync(path.join(onnxDir, 'vision_model.onnx')) && !variant && fs.existsSync(path.join(onnxDir, 'model.onnx'))) {
    throw new TwinLensError(
      'PACK_FILE_MISSING',
      `${dir} has only the joint text+image model.onnx, no vision_model.onnx`,
      'Download onnx/vision_model.onnx (CLIPVisionModelWithProjection) from the same repository',
    );
  }
  const picked = pickVariant(onnxDir, 'vision_model', variant, 'clip');
  const vision = await readOnnxComponent(picked.file, 'clip.vision');
  if (!vision.inputs.some((v) => v.name === 'pixel_values')) {
    throw new TwinLensError('ONNX_IO_MISMATCH', `${picked.file} has no pixel_values input`, 'Use the vision model of a transformers.js CLIP export');
  }
  const preprocessor = path.join(dir, 'preprocessor_config.json');
  if (!fs.existsSync(preprocessor)) {
    throw new TwinLensError(
      'PACK_FILE_MISSING',
      `${dir} has no preprocessor_config.json`,
      'Download preprocessor_config.json from the same repository (image size, mean, std)',
    );
  }
  const configFile = path.join(dir, 'config.json');
  let config: ClipConfigJson = {};
  if (fs.existsSync(configFile)) {
    try {
      config = JSON.parse(fs.readFileSync(configFile, 'utf8')) as ClipConfigJson;
    } catch (e) {
      throw new TwinLensError('PACK_MANIFEST_INVALID', `${configFile} is not valid JSON: ${(e as Error).message}`);
    }
  }
  const vc = config.vision_config ?? config;
  const notes: string[] = [];
  const fromGraph = graphLayerCount(vision);
  const numLayers = vc.num_hidden_layers ?? fromGraph;
  if (!numLayers) {
    throw new TwinLensError(
      'PACK_MANIFEST_INVALID',
      `${dir}: the encoder depth is unknown (no config.json and no encoder.layers.N nodes)`,
      'Download config.json from the same repository',
    );
  }
  if (fromGraph !== undefined && fromGraph !== numLayers) notes.push(`config.json says ${numLayers} layers but the graph has ${fromGraph}.`);
  let layer: ClipFolder['layer'] = 'last';
  let penultimateTensor: string | undefined;
  try {
    penultimateTensor = resolveTap(vision.index, `vision_model.encoder.layers.${numLayers - 2}`).tensorName;
    layer = 'penultimate';
  } catch {
    if (!outputOf(vision, 'last_hidden_state')) {
      throw new TwinLensError(
        'ONNX_IO_MISMATCH',
        `${picked.file}: neither encoder layer ${numLayers - 2} nor last_hidden_state is available`,
        'Use an unoptimised CLIPVisionModel export',
      );
    }
    notes.push(`Layer ${numLayers - 2} (LLaVA's penultimate) has no named nodes in this graph; using last_hidden_state.`);
  }
  const last = outputOf(vision, 'last_hidden_state');
  const hiddenSize = vc.hidden_size ?? (typeof last?.dims?.[2] === 'number' ? last.dims[2] : undefined);
  if (picked.variant !== 'fp32') notes.push(`Using the ${picked.variant} variant.`);
  return {
    dir,
    vision,
    variant: picked.variant,
    files: {
      vision: path.relative(dir, picked.file),
      preprocessor: 'preprocessor_config.json',
      ...(fs.existsSync(configFile) ? { config: 'config.json' } : {}),
    },
    numLayers,
    ...(hiddenSize ? { hiddenSize } : {}),
    layer,
    ...(penultimateTensor ? { penultimateTensor } : {}),
    ...(vc.image_size ? { imageSize: vc.image_size } : {}),
    notes,
  };
}
