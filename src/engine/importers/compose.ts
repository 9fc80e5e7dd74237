/**
 * The pack composer: published folders in, a pack folder with pack.json out.
 *
 * Why: users download a Stable Diffusion export, a CLIP encoder, a LLaVA-style
 * LLM and maybe projectors as separate repositories; the engine runs one
 * pack. This composes them: every file the engine will open is placed under
 * the pack folder (hard links, see placement.ts) in a fixed layout — `sd/`,
 * `clip/`, `llm/`, `projectors/` — the CLIP BPE tokenizer is written as a
 * tokenizer.json, and pack.json is generated from what the readers found
 * (family, image size, output names, layer counts, dtypes). Answer modes are
 * added for the projectors present; without projectors the pack still serves
 * feature maps, cross-attention and CLIP features. When the LLM ships its own
 * vision encoder and no separate CLIP is given, that encoder plus an identity
 * projector becomes the `native` baseline mode.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { TwinLensError } from '../../shared/errors.js';
import { PACK_FORMAT, PACK_FORMAT_VERSION, PackManifest, type PackManifestInput } from '../../shared/manifest.js';
import type { ClipFolder } from './clip-folder.js';
import type { LlmFolder } from './llm-folder.js';
import { PackPlacer, type PlacementMode } from './placement.js';
import { type ProjectorKind, type ProjectorsFolder, identityProjectorBytes } from './projectors-folder.js';
import type { SdFolder } from './sd-folder.js';
import { type TrainedFolder, addTrainedModes, modeSpec } from './trained-modes.js';

export interface ComposeInput {
  sd?: SdFolder;
  clip?: ClipFolder;
  llm?: LlmFolder;
  projectors?: ProjectorsFolder;
  /** One trained mode per folder (projectors + the LLM tuned with them): trained-modes.ts. */
  trained?: TrainedFolder[];
  out: string;
  name?: string;
  mode?: PlacementMode;
  /** Overrides the inferred VAE input size. */
  imageSize?: number;
  /** Test seam for hard links. */
  link?: (from: string, to: string) => void;
}

export interface ComposeResult {
  dir: string;
  manifest: PackManifest;
  placer: PackPlacer;
  notes: string[];
}

export const IMPORT_REPORT = 'import.json';

function ref(rel: string): { path: string } {
  return { path: rel.split(path.sep).join('/') };
}

export function composePack(input: ComposeInput): ComposeResult {
  const { sd, clip, llm, projectors } = input;
  if (!sd && !clip && !llm) throw new TwinLensError('INVALID_ARGUMENT', 'Nothing to import', 'Pass at least one of --sd, --clip, --llm');
  const dir = path.resolve(input.out);
  if (fs.existsSync(path.join(dir, 'pack.json')) && !fs.existsSync(path.join(dir, IMPORT_REPORT))) {
    throw new TwinLensError('INVALID_ARGUMENT', `${dir} already holds a pack that was not made by import`, 'Choose an empty --out folder');
  }
  fs.mkdirSync(dir, { recursive: true });
  const placer = new PackPlacer(fs.realpathSync(dir), { mode: input.mode, link: input.link });
  const notes: string[] = [];
  const m: PackManifestInput = {
    format: PACK_FORMAT,
    version: PACK_FORMAT_VERSION,
    name: input.name ?? path.basename(dir),
    description: `Imported from ${[sd && `SD ${sd.dir}`, clip && `CLIP ${clip.dir}`, llm && `LLM ${llm.dir}`].filter(Boolean).join(', ')}`,
    modes: {},
  };

  if (sd) {
    for (const [key, c] of [
      ['unet', sd.unet],
      ['textEncoder', sd.textEncoder],
      ['vaeEncoder', sd.vaeEncoder],
    ] as const) {
      placer.onnx(c.model, c.externalData, path.join('sd', sd.files[key]));
    }
    placer.file(path.join(sd.dir, sd.files.scheduler), path.join('sd', sd.files.scheduler));
    for (const f of fs.readdirSync(path.join(sd.dir, sd.files.tokenizerDir))) {
      if (f !== 'tokenizer.json') placer.file(path.join(sd.dir, sd.files.tokenizerDir, f), path.join('sd', 'tokenizer', f));
    }
    placer.write('sd/tokenizer/tokenizer.json', `${JSON.stringify(sd.tokenizer.tokenizerJson)}\n`);
    if (sd.unetConfig) placer.file(path.join(sd.dir, 'unet', 'config.json'), 'sd/unet/config.json');
    const imageSize = input.imageSize ?? sd.imageSize.value;
    m.diffusion = {
      family: sd.family.value,
      vaeEncoder: ref(path.join('sd', sd.files.vaeEncoder)),
      vaeOutput: sd.vaeOutput,
      textEncoder: { ...ref(path.join('sd', sd.files.textEncoder)), maxLength: sd.tokenizer.maxLength, output: sd.textOutput },
      tokenizer: 'sd/tokenizer/tokenizer.json',
      padTokenId: sd.tokenizer.padTokenId,
      unet: ref(path.join('sd', sd.files.unet)),
      unetOutput: sd.unetOutput,
      scheduler: ref(path.join('sd', sd.files.scheduler)).path,
      latentScale: sd.latentScale.value,
      imageSize,
    };
    notes.push(...sd.notes.map((n) => `SD: ${n}`));
  }

  const nativeBaseline = !clip && !!llm?.visionEncoder && !!llm.files.preprocessor;
  if (clip) {
    placer.onnx(clip.vision.model, clip.vision.externalData, path.join('clip', path.basename(clip.files.vision)));
    placer.file(path.join(clip.dir, clip.files.preprocessor), 'clip/preprocessor_config.json');
    if (clip.files.config) placer.file(path.join(clip.dir, clip.files.config), 'clip/config.json');
    m.clip = {
      vision: ref(path.join('clip', path.basename(clip.files.vision))),
      preprocessor: 'clip/preprocessor_config.json',
      layer: clip.layer,
      numLayers: clip.numLayers,
      dropCls: true,
    };
    notes.push(...clip.notes.map((n) => `CLIP: ${n}`));
  } else if (nativeBaseline && llm?.visionEncoder) {
    // The LLM's own vision tower (+ its projector) outputs image_features already in the LLM's width.
    placer.onnx(llm.visionEncoder.model, llm.visionEncoder.externalData, path.join('llm', path.basename(llm.files.visionEncoder!)));
    placer.file(path.join(llm.dir, llm.files.preprocessor!), 'llm/preprocessor_config.json');
    const out = llm.visionEncoder.outputs[0]?.name ?? 'image_features';
    m.clip = {
      vision: ref(path.join('llm', path.basename(llm.files.visionEncoder!))),
      preprocessor: 'llm/preprocessor_config.json',
      layer: out,
      dropCls: false,
    };
    notes.push(`The LLM's own vision encoder (${out}) serves as the "native" baseline mode; pass --clip to use a CLIP encoder instead.`);
  }

  if (llm) {
    placer.onnx(llm.embedTokens.model, llm.embedTokens.externalData, path.join('llm', path.basename(llm.files.embedTokens)));
    placer.onnx(llm.decoder.model, llm.decoder.externalData, path.join('llm', path.basename(llm.files.decoder)));
    for (const f of [llm.files.tokenizer, llm.files.tokenizerConfig, llm.files.config, 'generation_config.json', 'special_tokens_map.json']) {
      if (f && fs.existsSync(path.join(llm.dir, f))) placer.file(path.join(llm.dir, f), path.join('llm', f));
    }
    m.llm = {
      embedTokens: ref(path.join('llm', path.basename(llm.files.embedTokens))),
      decoder: ref(path.join('llm', path.basename(llm.files.decoder))),
      tokenizer: 'llm/tokenizer.json',
      ...(llm.files.tokenizerConfig ? { tokenizerConfig: 'llm/tokenizer_config.json' } : {}),
      ...(llm.chatTemplate ? { chatTemplate: llm.chatTemplate } : {}),
      imageToken: llm.imageToken,
      stopTokens: llm.stopTokens,
      numLayers: llm.numLayers,
      numKvHeads: llm.numKvHeads,
      headDim: llm.headDim,
      maxLength: llm.maxLength,
      dtype: llm.dtype,
    };
    notes.push(...llm.notes.map((n) => `LLM: ${n}`));
    if (nativeBaseline && llm.visionEncoder) {
      const dim = llm.hiddenSize;
      placer.write('projectors/identity.onnx', identityProjectorBytes(dim));
      m.modes!.native = {
        label: 'Native (LLM vision encoder)',
        description: "The LLM's own vision encoder and projector: the baseline answer mode",
        inputs: ['clip'],
        fusion: 'none',
        projectors: { clip: ref('projectors/identity.onnx') },
      };
    }
  }

  if (projectors) addProjectorModes(m, placer, projectors, { sd, clip, llm }, notes);
  if (input.trained?.length) {
    const needsEncoders = input.trained.filter((t) => (t.mode !== 'diffusion' && !m.clip) || (t.mode !== 'clip' && !m.diffusion));
    if (needsEncoders.length) {
      throw new TwinLensError(
        'INVALID_ARGUMENT',
        `The trained mode ${needsEncoders[0].mode} needs ${needsEncoders[0].mode === 'clip' ? '--clip' : needsEncoders[0].mode === 'diffusion' ? '--sd' : '--sd and --clip'}`,
        'Pass the encoders the projectors were trained on',
      );
    }
    addTrainedModes(m, placer, input.trained, llm, notes);
  }
  const manifest = PackManifest.parse(m);
  placer.write('pack.json', `${JSON.stringify(manifest, null, 2)}\n`);
  placer.write(
    IMPORT_REPORT,
    `${JSON.stringify({ sources: { sd: sd?.dir, clip: clip?.dir, llm: llm?.dir, projectors: projectors?.dir, trained: input.trained?.map((t) => t.dir) }, notes, placed: placer.placed }, null, 2)}\n`,
  );
  return { dir: placer.packDir, manifest, placer, notes };
}

function addProjectorModes(
  m: PackManifestInput,
  placer: PackPlacer,
  p: ProjectorsFolder,
  parts: { sd?: SdFolder; clip?: ClipFolder; llm?: LlmFolder },
  notes: string[],
): void {
  const rel: Partial<Record<ProjectorKind, { path: string }>> = {};
  for (const [kind, pf] of Object.entries(p.projectors) as Array<[ProjectorKind, ProjectorsFolder['projectors'][ProjectorKind]]>) {
    if (!pf) continue;
    placer.onnx(pf.component.model, pf.component.externalData, path.join('projectors', pf.file));
    rel[kind] = ref(path.join('projectors', pf.file));
    if (parts.llm && pf.outDim !== undefined && pf.outDim !== parts.llm.hiddenSize) {
      notes.push(`Projector ${pf.file} outputs width ${pf.outDim}, but the LLM's hidden size is ${parts.llm.hiddenSize}.`);
    }
    if (kind === 'clip' && parts.clip?.hiddenSize && pf.inDims[0] > 0 && pf.inDims[0] !== parts.clip.hiddenSize) {
      notes.push(`Projector ${pf.file} takes width ${pf.inDims[0]}, but the CLIP encoder's width is ${parts.clip.hiddenSize}.`);
    }
  }
  const modes = m.modes!;
  const add = (id: 'clip' | 'diffusion' | 'fused' | 'fused-xattn', ok: boolean) => {
    const spec = ok ? modeSpec(id, rel, p.diffusion) : undefined;
    if (spec) modes[id] = spec;
  };
  add('clip', !!(m.clip && parts.clip));
  add('diffusion', !!m.diffusion);
  add('fused', !!(parts.clip && m.diffusion));
  add('fused-xattn', !!(parts.clip && m.diffusion));
  if (!parts.llm) notes.push('Projectors were given but no LLM: answer modes need --llm.');
}
