/**
 * Trained answer modes for a composed pack: `packs import --trained DIR`
 * (repeatable), one folder per mode as the training export writes it —
 * `projectors/` (the ONNX projectors + projectors.json naming the mode) and,
 * when stage 2 tuned the LLM, `llm/` (a transformers.js LLM folder).
 *
 * Why a separate input from `--projectors`: the LLaVA recipe tunes the LLM in
 * stage 2 *per mode*, so the CLIP-only, diffusion-only and fused answers come
 * from four different decoders. One `--projectors` folder can hold only one
 * LLM's projectors, which forced one pack per mode; the manifest already lets
 * each mode name its own `llm.decoder`/`llm.embedTokens` (mode-runner.ts), so
 * here every trained mode keeps its projectors under `projectors/<mode>/` and
 * its tuned decoder under `llm/<mode>/`, all side by side in one pack.
 *
 * The pack has one tokenizer and one KV-cache layout: a tuned LLM whose
 * tokenizer.json, layer count, KV heads, head size, width or cache dtype
 * differ from the pack's LLM is refused here, because the engine would
 * otherwise fail at the first question (or, worse, answer with the wrong ids).
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { TwinLensError } from '../../shared/errors.js';
import type { DiffusionDefaults, ModeSection, PackManifestInput } from '../../shared/manifest.js';
import type { LlmFolder } from './llm-folder.js';
import { readLlmFolder } from './llm-folder.js';
import type { OnnxVariant } from './onnx-component.js';
import type { PackPlacer } from './placement.js';
import { type ProjectorKind, type ProjectorsFolder, readProjectorsFolder } from './projectors-folder.js';

/** The answer modes a training run produces, and the projector kinds each reads. */
export const TRAINED_MODE_KINDS = {
  clip: ['clip'],
  diffusion: ['diffusion'],
  fused: ['clip', 'diffusion'],
  'fused-xattn': ['xattn'],
} as const satisfies Record<string, readonly ProjectorKind[]>;
export type TrainedModeId = keyof typeof TRAINED_MODE_KINDS;

export interface TrainedFolder {
  dir: string;
  mode: TrainedModeId;
  projectors: ProjectorsFolder;
  /** The LLM stage 2 tuned with these projectors; absent when only projectors were trained. */
  llm?: LlmFolder;
}

type ModeInput = NonNullable<PackManifestInput['modes']>[string];
type Ref = { path: string };

/** The manifest entry of one answer mode over the given projector files (pack-relative refs). */
export function modeSpec(mode: TrainedModeId, rel: Partial<Record<ProjectorKind, Ref>>, settings?: Partial<DiffusionDefaults>): ModeInput | undefined {
  const diff = settings ? { diffusion: settings } : {};
  switch (mode) {
    case 'clip':
      return rel.clip ? { label: 'CLIP', inputs: ['clip'], fusion: 'none', projectors: { clip: rel.clip } } : undefined;
    case 'diffusion':
      return rel.diffusion ? { label: 'Diffusion', inputs: ['diffusion'], fusion: 'none', projectors: { diffusion: rel.diffusion }, ...diff } : undefined;
    case 'fused':
      return rel.clip && rel.diffusion
        ? { label: 'Fused (concat)', inputs: ['clip', 'diffusion'], fusion: 'concat', projectors: { clip: rel.clip, diffusion: rel.diffusion }, ...diff }
        : undefined;
    case 'fused-xattn':
      return rel.xattn
        ? { label: 'Fused (cross-attention)', inputs: ['clip', 'diffusion'], fusion: 'cross-attention', projectors: { xattn: rel.xattn }, ...diff }
        : undefined;
  }
}

/**
 * Each given folder as it is when it holds projectors/, otherwise its subfolders that do (sorted):
 * so `--trained trained/` takes every mode the export wrote under it.
 */
export function expandTrainedDirs(dirs: string[]): string[] {
  const out: string[] = [];
  for (const d of dirs) {
    const dir = path.resolve(d);
    if (!fs.existsSync(dir)) throw new TwinLensError('PACK_NOT_FOUND', `Trained folder ${dir} does not exist`);
    if (fs.existsSync(path.join(dir, 'projectors'))) {
      out.push(dir);
      continue;
    }
    const subs = fs
      .readdirSync(dir, { withFileTypes: true })
      .filter((e) => e.isDirectory() && fs.existsSync(path.join(dir, e.name, 'projectors')))
      .map((e) => path.join(dir, e.name))
      .sort();
    if (!subs.length) {
      throw new TwinLensError(
        'PACK_FILE_MISSING',
        `${dir} has no projectors/ folder, nor subfolders with one`,
        'Pass the folder the training export wrote for one mode (projectors/ + llm/), or the folder holding one per mode',
      );
    }
    out.push(...subs);
  }
  return out;
}

export async function readTrainedFolder(dirIn: string, llmVariant?: OnnxVariant): Promise<TrainedFolder> {
  const dir = path.resolve(dirIn);
  const projDir = path.join(dir, 'projectors');
  if (!fs.existsSync(projDir)) {
    throw new TwinLensError(
      'PACK_FILE_MISSING',
      `${dir} has no projectors/ folder`,
      'Pass the folder the training export wrote for one mode (it holds projectors/ and, when the LLM was tuned, llm/)',
    );
  }
  const projectors = await readProjectorsFolder(projDir);
  const modes = projectors.runModes ?? [];
  if (modes.length !== 1) {
    throw new TwinLensError(
      'PACK_MANIFEST_INVALID',
      `${path.join(projDir, 'projectors.json')} names ${modes.length ? `the modes ${modes.join(', ')}` : 'no trained mode'}; a --trained folder holds exactly one`,
      'Export each mode into its own folder (python -m twinlens_train.llava.export … --out DIR/<mode>)',
    );
  }
  const mode = modes[0];
  if (!(mode in TRAINED_MODE_KINDS)) {
    throw new TwinLensError('PACK_MANIFEST_INVALID', `${projDir}: unknown trained mode "${mode}"`, `Modes: ${Object.keys(TRAINED_MODE_KINDS).join(', ')}`);
  }
  const llmDir = path.join(dir, 'llm');
  const llm = fs.existsSync(llmDir) ? await readLlmFolder(llmDir, llmVariant) : undefined;
  return { dir, mode: mode as TrainedModeId, projectors, llm };
}

function fileHash(file: string): string {
  return createHash('sha256').update(fs.readFileSync(file)).digest('hex');
}

/** Why a tuned LLM cannot share the pack's tokenizer and KV layout, or undefined when it can. */
export function llmMismatch(base: LlmFolder, tuned: LlmFolder): string | undefined {
  const keys = ['numLayers', 'numKvHeads', 'headDim', 'hiddenSize', 'dtype'] as const;
  for (const k of keys) {
    if (base[k] !== tuned[k]) return `its ${k} is ${tuned[k]}, the pack LLM's is ${base[k]}`;
  }
  if (fileHash(path.join(base.dir, base.files.tokenizer)) !== fileHash(path.join(tuned.dir, tuned.files.tokenizer))) {
    return `its tokenizer.json differs from ${path.join(base.dir, base.files.tokenizer)}`;
  }
  return undefined;
}

/**
 * Place every trained mode's projectors and tuned LLM and add its manifest
 * entry. `base` is the pack's LLM (its tokenizer and config serve every mode).
 */
export function addTrainedModes(m: PackManifestInput, placer: PackPlacer, trained: TrainedFolder[], base: LlmFolder | undefined, notes: string[]): void {
  const seen = new Map<string, string>();
  for (const t of trained) {
    const before = seen.get(t.mode);
    if (before)
      throw new TwinLensError('INVALID_ARGUMENT', `Two --trained folders hold the mode ${t.mode}: ${before} and ${t.dir}`, 'Pass one folder per mode');
    seen.set(t.mode, t.dir);
    const need = TRAINED_MODE_KINDS[t.mode];
    const rel: Partial<Record<ProjectorKind, Ref>> = {};
    for (const kind of need) {
      const pf = t.projectors.projectors[kind];
      if (!pf) throw new TwinLensError('PACK_FILE_MISSING', `${t.projectors.dir}: the ${t.mode} mode needs a ${kind} projector`, 'Re-export the run');
      const to = path.join('projectors', t.mode, pf.file);
      placer.onnx(pf.component.model, pf.component.externalData, to);
      rel[kind] = { path: to.split(path.sep).join('/') };
      if (base && pf.outDim !== undefined && pf.outDim !== base.hiddenSize) {
        throw new TwinLensError(
          'ONNX_IO_MISMATCH',
          `${t.dir}: the ${t.mode} projector outputs width ${pf.outDim}, the LLM's hidden size is ${base.hiddenSize}`,
          'Train the projector for this LLM',
        );
      }
    }
    const spec = modeSpec(t.mode, rel, t.projectors.diffusion) as ModeInput & { llm?: ModeSection['llm'] };
    if (t.llm) {
      if (!base)
        throw new TwinLensError(
          'INVALID_ARGUMENT',
          `${t.dir} holds a tuned LLM but the pack has none`,
          'Pass --llm, or put llm/ in the first --trained folder',
        );
      const why = llmMismatch(base, t.llm);
      if (why)
        throw new TwinLensError(
          'PACK_MANIFEST_INVALID',
          `The LLM tuned for ${t.mode} (${t.llm.dir}) cannot share this pack's tokenizer and KV cache: ${why}`,
          'Tune every mode from the same base LLM, and pass that LLM (or one of the tuned folders) as --llm',
        );
      const emb = path.join('llm', t.mode, path.basename(t.llm.files.embedTokens));
      const dec = path.join('llm', t.mode, path.basename(t.llm.files.decoder));
      placer.onnx(t.llm.embedTokens.model, t.llm.embedTokens.externalData, emb);
      placer.onnx(t.llm.decoder.model, t.llm.decoder.externalData, dec);
      spec.llm = { embedTokens: { path: emb.split(path.sep).join('/') }, decoder: { path: dec.split(path.sep).join('/') } };
    } else {
      notes.push(`The ${t.mode} mode has no tuned LLM (${t.dir} has no llm/): it answers with the pack's LLM.`);
    }
    spec.description = `Trained: ${path.basename(t.dir)}${t.llm ? ' (projectors + stage-2 LLM)' : ' (projectors)'}`;
    m.modes![t.mode] = spec;
  }
}
