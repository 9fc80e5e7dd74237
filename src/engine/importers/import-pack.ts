/**
 * `twinlens packs import`: read the published folders, compose the pack,
 * validate it, and report what it can serve.
 *
 * Why one function: the CLI and the workbench's Models view need the same
 * sequence and the same report — what was found in each folder (layout,
 * family, dtypes, image size and where each fact came from), how the files
 * were placed, the validation checks, and the capabilities.
 */
import type { ModeInfo } from '../../shared/contract.js';
import type { PackManifest } from '../../shared/manifest.js';
import type { ProviderChoice } from '../onnx/providers.js';
import { describeModes } from '../pack/describe.js';
import { Pack } from '../pack/pack.js';
import { type ValidationReport, validatePack } from '../pack/validate.js';
import { type Capability, packCapabilities } from './capabilities.js';
import { type ClipFolder, readClipFolder } from './clip-folder.js';
import { composePack } from './compose.js';
import { type LlmFolder, readLlmFolder } from './llm-folder.js';
import type { OnnxVariant } from './onnx-component.js';
import type { PlacementMode } from './placement.js';
import { type ProjectorsFolder, readProjectorsFolder } from './projectors-folder.js';
import { type SdFolder, readSdFolder } from './sd-folder.js';
import { type TrainedFolder, expandTrainedDirs, readTrainedFolder } from './trained-modes.js';

export interface ImportOptions {
  sd?: string;
  clip?: string;
  llm?: string;
  projectors?: string;
  /**
   * Trained modes, one folder each (projectors/ + the stage-2 LLM in llm/).
   * Without --llm, the first tuned LLM among them is the pack's LLM (tokenizer, config).
   */
  trained?: string[];
  out: string;
  name?: string;
  mode?: PlacementMode;
  imageSize?: number;
  clipVariant?: OnnxVariant;
  llmVariant?: OnnxVariant;
  /** Open every session after composing (default true). */
  validate?: boolean;
  provider?: ProviderChoice;
  /** Test seam for hard links. */
  link?: (from: string, to: string) => void;
}

export interface SdSummary {
  dir: string;
  layout: string;
  pipelineClass?: string;
  family: string;
  familySource: string;
  imageSize: number;
  imageSizeSource: string;
  timestep: string;
  ioDtype: string;
  textInputDtype: string;
  tokenizer: string;
  padTokenId: number;
  externalData: string[];
  optimised: boolean;
  crossAttentionMaps: boolean;
  unavailableTaps: string[];
}

export interface ImportReport {
  dir: string;
  manifest: PackManifest;
  sd?: SdSummary;
  clip?: { dir: string; variant: string; numLayers: number; layer: string; tensor?: string };
  llm?: {
    dir: string;
    variant: string;
    numLayers: number;
    numKvHeads: number;
    headDim: number;
    dtype: string;
    imageToken: string;
    stopTokens: string[];
    visionEncoder: boolean;
  };
  projectors?: string[];
  trained?: Array<{ mode: string; dir: string; tunedLlm: boolean }>;
  placement: ReturnType<ReturnType<typeof composePack>['placer']['summary']>;
  notes: string[];
  capabilities: Capability[];
  validation?: ValidationReport;
  usable: boolean;
}

function summariseSd(sd: SdFolder): SdSummary {
  return {
    dir: sd.dir,
    layout: sd.layout,
    ...(sd.pipelineClass ? { pipelineClass: sd.pipelineClass } : {}),
    family: sd.family.value,
    familySource: sd.family.source,
    imageSize: sd.imageSize.value,
    imageSizeSource: sd.imageSize.source,
    timestep: `${sd.timestep.dtype} [${sd.timestep.dims.join(',')}]`,
    ioDtype: sd.ioDtype,
    textInputDtype: sd.textInputDtype,
    tokenizer: sd.tokenizer.source,
    padTokenId: sd.tokenizer.padTokenId,
    externalData: sd.unet.externalData,
    optimised: sd.attention.optimised,
    crossAttentionMaps: sd.attention.crossAttentionMaps.available,
    unavailableTaps: sd.attention.studyTaps.filter((t) => !t.available).map((t) => t.alias),
  };
}

export async function importPack(o: ImportOptions): Promise<ImportReport> {
  const sd: SdFolder | undefined = o.sd ? await readSdFolder(o.sd) : undefined;
  const clip: ClipFolder | undefined = o.clip ? await readClipFolder(o.clip, o.clipVariant) : undefined;
  const trained: TrainedFolder[] = [];
  for (const dir of expandTrainedDirs(o.trained ?? [])) trained.push(await readTrainedFolder(dir, o.llmVariant));
  const llm: LlmFolder | undefined = o.llm ? await readLlmFolder(o.llm, o.llmVariant) : trained.find((t) => t.llm)?.llm;
  const projectors: ProjectorsFolder | undefined = o.projectors ? await readProjectorsFolder(o.projectors) : undefined;
  const composed = composePack({ sd, clip, llm, projectors, trained, out: o.out, name: o.name, mode: o.mode, imageSize: o.imageSize, link: o.link });
  let validation: ValidationReport | undefined;
  let modes: ModeInfo[] | undefined;
  if (o.validate !== false) {
    validation = await validatePack(composed.dir, { provider: o.provider ?? 'cpu' });
    modes = validation.modes;
  }
  modes ??= describeModes(Pack.load(composed.dir));
  return {
    dir: composed.dir,
    manifest: composed.manifest,
    ...(sd ? { sd: summariseSd(sd) } : {}),
    ...(clip
      ? {
          clip: {
            dir: clip.dir,
            variant: clip.variant,
            numLayers: clip.numLayers,
            layer: clip.layer,
            ...(clip.penultimateTensor ? { tensor: clip.penultimateTensor } : {}),
          },
        }
      : {}),
    ...(llm
      ? {
          llm: {
            dir: llm.dir,
            variant: llm.variant,
            numLayers: llm.numLayers,
            numKvHeads: llm.numKvHeads,
            headDim: llm.headDim,
            dtype: llm.dtype,
            imageToken: llm.imageToken,
            stopTokens: llm.stopTokens,
            visionEncoder: !!llm.visionEncoder,
          },
        }
      : {}),
    ...(projectors ? { projectors: Object.values(projectors.projectors).map((p) => p!.file) } : {}),
    ...(trained.length ? { trained: trained.map((t) => ({ mode: t.mode, dir: t.dir, tunedLlm: !!t.llm })) } : {}),
    placement: composed.placer.summary(),
    notes: composed.notes,
    capabilities: packCapabilities(composed.manifest, sd?.attention, modes),
    ...(validation ? { validation } : {}),
    usable: validation ? validation.usable : true,
  };
}
