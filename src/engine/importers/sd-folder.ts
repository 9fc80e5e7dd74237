/**
 * Reads a Stable Diffusion ONNX folder as published — the diffusers-script
 * layout (`unet/model.onnx` + `weights.pb`), the Optimum layout
 * (`unet/model.onnx` + `model.onnx_data` + `unet/config.json`) or an
 * optimised (Olive / ORT) export — into the facts a pack needs.
 *
 * Why: exports disagree on the timestep dtype (int64, float32, float16) and
 * shape ([1] or []), on float16 I/O, on the text encoder's id dtype, on the
 * tokenizer files and on which configs they ship (REFERENCE.md A1). The
 * engine reads dtypes from session metadata at run time; the importer reads
 * the same metadata from the graphs now, so the user sees what was found
 * (and what is unavailable) before loading gigabytes.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { TwinLensError } from '../../shared/errors.js';
import { type AttentionReport, checkAttention } from './attention-check.js';
import { type TextTokenizerFiles, readTextTokenizerFolder } from './clip-bpe.js';
import { type OnnxComponent, inputOf, outputOf, readOnnxComponent } from './onnx-component.js';
import { type SdFamily, type Sourced, type UnetConfigJson, detectFamily, inferImageSize, vaeScaleFactor } from './unet-family.js';

export type SdLayout = 'diffusers-script' | 'optimum' | 'optimised';

export interface SdFolder {
  dir: string;
  layout: SdLayout;
  /** model_index.json `_class_name`, when present. */
  pipelineClass?: string;
  unet: OnnxComponent;
  textEncoder: OnnxComponent;
  vaeEncoder: OnnxComponent;
  /** Relative to dir. */
  files: { unet: string; textEncoder: string; vaeEncoder: string; scheduler: string; tokenizerDir: string };
  tokenizer: TextTokenizerFiles;
  schedulerClass?: string;
  unetConfig?: UnetConfigJson;
  family: Sourced<SdFamily> & { crossAttentionDim?: number };
  imageSize: Sourced<number>;
  vaeScale: Sourced<number>;
  latentScale: Sourced<number>;
  timestep: { dtype: string; dims: Array<number | string | null> };
  /** dtype of sample / encoder_hidden_states / out_sample. */
  ioDtype: string;
  textInputDtype: string;
  textOutput: string;
  vaeOutput: string;
  unetOutput: string;
  attention: AttentionReport;
  notes: string[];
}

export const SD_COMPONENTS = { unet: 'unet/model.onnx', textEncoder: 'text_encoder/model.onnx', vaeEncoder: 'vae_encoder/model.onnx' } as const;

function readJsonIf<T>(file: string): T | undefined {
  if (!fs.existsSync(file)) return undefined;
  try {
    return JSON.parse(fs.readFileSync(file, 'utf8')) as T;
  } catch (e) {
    throw new TwinLensError('PACK_MANIFEST_INVALID', `${file} is not valid JSON: ${(e as Error).message}`, 'Re-download the file');
  }
}

function need(dir: string, rel: string, what: string): string {
  const abs = path.join(dir, rel);
  if (!fs.existsSync(abs)) {
    const hint = rel.startsWith('vae_encoder')
      ? 'Feature extraction needs the VAE encoder; some exports ship only vae_decoder (text-to-image only). Use an export with vae_encoder/.'
      : 'Expected the diffusers ONNX folder layout: unet/, text_encoder/, vae_encoder/, tokenizer/, scheduler/ (REFERENCE.md A1.1)';
    throw new TwinLensError('PACK_FILE_MISSING', `${dir} has no ${rel} (${what})`, hint);
  }
  return abs;
}

export async function readSdFolder(dirIn: string): Promise<SdFolder> {
  const dir = path.resolve(dirIn);
  if (!fs.existsSync(dir) || !fs.statSync(dir).isDirectory()) {
    throw new TwinLensError(
      'PACK_NOT_FOUND',
      `Stable Diffusion folder ${dir} does not exist`,
      'Pass the folder that contains unet/, text_encoder/ and vae_encoder/',
    );
  }
  const notes: string[] = [];
  const unet = await readOnnxComponent(need(dir, SD_COMPONENTS.unet, 'the UNet'), 'unet');
  const textEncoder = await readOnnxComponent(need(dir, SD_COMPONENTS.textEncoder, 'the CLIP text encoder'), 'text_encoder');
  const vaeEncoder = await readOnnxComponent(need(dir, SD_COMPONENTS.vaeEncoder, 'the VAE encoder'), 'vae_encoder');
  const scheduler = path.join('scheduler', 'scheduler_config.json');
  need(dir, scheduler, 'the noise schedule');
  need(dir, 'tokenizer', 'the CLIP tokenizer');
  const tokenizer = readTextTokenizerFolder(path.join(dir, 'tokenizer'));
  const modelIndex = readJsonIf<{ _class_name?: string }>(path.join(dir, 'model_index.json'));
  const schedulerJson = readJsonIf<{ _class_name?: string }>(path.join(dir, scheduler));
  const unetConfig = readJsonIf<UnetConfigJson>(path.join(dir, 'unet', 'config.json'));
  const vaeConfig = readJsonIf<{ block_out_channels?: number[]; scaling_factor?: number }>(path.join(dir, 'vae_encoder', 'config.json'));
  const textConfig = readJsonIf<{ hidden_size?: number }>(path.join(dir, 'text_encoder', 'config.json'));

  for (const [c, names, label] of [
    [unet, ['sample', 'timestep', 'encoder_hidden_states'], 'unet'],
    [textEncoder, ['input_ids'], 'text_encoder'],
    [vaeEncoder, ['sample'], 'vae_encoder'],
  ] as const) {
    for (const n of names) {
      if (!inputOf(c, n)) {
        throw new TwinLensError(
          'ONNX_IO_MISMATCH',
          `${label}/model.onnx has no input "${n}" (inputs: ${c.inputs.map((v) => v.name).join(', ')})`,
          'This does not look like a diffusers/Optimum Stable Diffusion export',
        );
      }
    }
  }
  if (textConfig === undefined && inputOf(unet, 'text_embeds'))
    notes.push('The UNet takes text_embeds/time_ids: this looks like SDXL, which the tap presets do not cover.');
  const unetOutput = outputOf(unet, 'out_sample') ? 'out_sample' : unet.outputs[0]?.name;
  if (unetOutput !== 'out_sample') notes.push(`UNet output is "${unetOutput}" (ORT transformers-tool exports call it "latent").`);
  const textOutput = outputOf(textEncoder, 'last_hidden_state') ? 'last_hidden_state' : textEncoder.outputs[0]?.name;
  const vaeOutput = outputOf(vaeEncoder, 'latent_sample') ? 'latent_sample' : vaeEncoder.outputs[0]?.name;
  if (vaeOutput === 'latent_parameters') notes.push('The VAE encoder returns latent_parameters (mean ‖ log-variance, Optimum ≥ 2): the mean is the latent.');

  const ehs = inputOf(unet, 'encoder_hidden_states')!;
  const ehsWidth = typeof ehs.dims?.[2] === 'number' ? ehs.dims[2] : undefined;
  const textOut = outputOf(textEncoder, textOutput ?? '');
  const textWidth = textConfig?.hidden_size ?? (typeof textOut?.dims?.[2] === 'number' ? textOut.dims[2] : undefined) ?? ehsWidth;
  const family = detectFamily({ config: unetConfig, graph: unet.index, textHiddenSize: textWidth });
  const vaeScale = vaeScaleFactor(vaeConfig, vaeEncoder.index);
  const imageSize = inferImageSize(unetConfig, inputOf(unet, 'sample')?.dims, vaeScale);
  const latentScale: Sourced<number> = vaeConfig?.scaling_factor
    ? { value: vaeConfig.scaling_factor, source: 'vae_encoder/config.json scaling_factor' }
    : { value: 0.18215, source: 'the SD 1.x/2.x default 0.18215' };
  const attention = checkAttention(unet.index);

  const timestep = inputOf(unet, 'timestep')!;
  const ioDtype = inputOf(unet, 'sample')!.elementType ?? 'float32';
  let layout: SdLayout;
  if (attention.optimised) layout = 'optimised';
  else if (unetConfig || unet.externalData.some((f) => f.endsWith('.onnx_data') || /\.onnx_data_\d+$/.test(f))) layout = 'optimum';
  else layout = 'diffusers-script';
  if (unet.externalData.length > 1) notes.push(`UNet weights are split over ${unet.externalData.length} external-data files.`);
  if (unet.externalData.length === 0 && unet.modelBytes > 1.5e9) {
    notes.push(
      'The UNet stores its weights inline (one large .onnx): graph surgery must parse the whole file; an export with external data is faster to edit.',
    );
  }
  if (ioDtype === 'float16') notes.push('float16 inputs and outputs (an fp16 export): the engine converts at the session boundary.');
  return {
    dir,
    layout,
    ...(modelIndex?._class_name ? { pipelineClass: modelIndex._class_name } : {}),
    unet,
    textEncoder,
    vaeEncoder,
    files: { ...SD_COMPONENTS, scheduler, tokenizerDir: 'tokenizer' },
    tokenizer,
    ...(schedulerJson?._class_name ? { schedulerClass: schedulerJson._class_name } : {}),
    ...(unetConfig ? { unetConfig } : {}),
    family,
    imageSize,
    vaeScale,
    latentScale,
    timestep: { dtype: timestep.elementType ?? 'unknown', dims: timestep.dims ?? [] },
    ioDtype,
    textInputDtype: inputOf(textEncoder, 'input_ids')!.elementType ?? 'unknown',
    textOutput: textOutput ?? 'last_hidden_state',
    vaeOutput: vaeOutput ?? 'latent_sample',
    unetOutput: unetOutput ?? 'out_sample',
    attention,
    notes: [...notes, ...attention.notes],
  };
}
