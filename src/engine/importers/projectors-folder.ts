/**
 * Projector ONNX files for a composed pack, and the identity projector that
 * lets an LLM's own vision encoder serve as the baseline answer mode.
 *
 * Why: projectors are what a user trains (DESIGN §1.6); no public export has
 * them, so their folder follows this project's convention: `clip.onnx`,
 * `diffusion.onnx`, `xattn.onnx` (features → embeds; xattn, the cross-attention projector, takes
 * clip_features + diffusion_features) and an optional `projectors.json` with
 * the diffusion settings the projector was trained with. Widths are checked
 * against the encoders and the LLM here, because a mismatch otherwise only
 * shows up as an ONNX Runtime shape error at the first question.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import onnxProto from 'onnx-proto';
import { TwinLensError } from '../../shared/errors.js';
import type { DiffusionDefaults } from '../../shared/manifest.js';
import { type OnnxComponent, readOnnxComponent } from './onnx-component.js';

const { onnx } = onnxProto;

export type ProjectorKind = 'clip' | 'diffusion' | 'xattn';

export interface ProjectorFile {
  kind: ProjectorKind;
  /** Relative to the projectors folder. */
  file: string;
  component: OnnxComponent;
  /** Static feature width(s) the projector takes, when the graph declares them. */
  inDims: number[];
  outDim?: number;
}

export interface ProjectorsFolder {
  dir: string;
  projectors: Partial<Record<ProjectorKind, ProjectorFile>>;
  /** Diffusion settings (tap, t, guidance, prompt) the diffusion/xattn projectors were trained with. */
  diffusion?: Partial<DiffusionDefaults>;
  /** The answer modes of the training runs projectors.json lists (`runs[].mode`), when it lists any. */
  runModes?: string[];
  notes: string[];
}

interface ProjectorsJson {
  runs?: Array<{ mode?: string }>;
  clip?: { file?: string };
  diffusion?: { file?: string; settings?: Partial<DiffusionDefaults> };
  xattn?: { file?: string; settings?: Partial<DiffusionDefaults> };
  /** Older exports' name for xattn. */
  fused?: { file?: string; settings?: Partial<DiffusionDefaults> };
}

function lastDim(dims: Array<number | string | null> | undefined): number | undefined {
  const d = dims?.[dims.length - 1];
  return typeof d === 'number' ? d : undefined;
}

export async function readProjectorsFolder(dirIn: string): Promise<ProjectorsFolder> {
  const dir = path.resolve(dirIn);
  if (!fs.existsSync(dir)) throw new TwinLensError('PACK_NOT_FOUND', `Projector folder ${dir} does not exist`);
  const jsonFile = path.join(dir, 'projectors.json');
  let meta: ProjectorsJson = {};
  if (fs.existsSync(jsonFile)) {
    try {
      meta = JSON.parse(fs.readFileSync(jsonFile, 'utf8')) as ProjectorsJson;
    } catch (e) {
      throw new TwinLensError('PACK_MANIFEST_INVALID', `${jsonFile} is not valid JSON: ${(e as Error).message}`);
    }
  }
  const names = fs.readdirSync(dir);
  const pick: Record<ProjectorKind, string | undefined> = {
    clip: meta.clip?.file ?? names.find((n) => n === 'clip.onnx'),
    diffusion: meta.diffusion?.file ?? names.find((n) => n === 'diffusion.onnx'),
    // older exports called the cross-attention projector fused*.onnx / "fused"
    xattn: meta.xattn?.file ?? meta.fused?.file ?? names.find((n) => /^(xattn|fused).*\.onnx$/.test(n)),
  };
  const out: ProjectorsFolder = { dir, projectors: {}, notes: [] };
  for (const kind of ['clip', 'diffusion', 'xattn'] as const) {
    const file = pick[kind];
    if (!file) continue;
    const component = await readOnnxComponent(path.join(dir, file), `projector ${kind}`);
    const want = kind === 'xattn' ? ['clip_features', 'diffusion_features'] : ['features'];
    for (const w of want) {
      if (!component.inputs.some((v) => v.name === w)) {
        throw new TwinLensError(
          'ONNX_IO_MISMATCH',
          `${file}: a ${kind} projector needs input "${w}" (has ${component.inputs.map((v) => v.name).join(', ')})`,
          'Export projectors with inputs features (or clip_features + diffusion_features) and output embeds',
        );
      }
    }
    if (!component.outputs.some((v) => v.name === 'embeds')) {
      throw new TwinLensError('ONNX_IO_MISMATCH', `${file}: the projector has no output "embeds"`, 'Export projectors with output embeds');
    }
    const inDims = want.map((w) => lastDim(component.inputs.find((v) => v.name === w)?.dims) ?? -1);
    out.projectors[kind] = { kind, file, component, inDims, outDim: lastDim(component.outputs.find((v) => v.name === 'embeds')?.dims) };
  }
  const settings = meta.diffusion?.settings ?? meta.xattn?.settings ?? meta.fused?.settings;
  if (settings) out.diffusion = settings;
  if (Array.isArray(meta.runs)) out.runModes = [...new Set(meta.runs.map((r) => r.mode).filter((x): x is string => typeof x === 'string'))];
  if (!Object.keys(out.projectors).length) out.notes.push(`${dir} has no clip.onnx, diffusion.onnx or xattn.onnx.`);
  return out;
}

/** A projector ONNX that passes features through unchanged (features [b,n,dim] → embeds). */
export function identityProjectorBytes(dim: number): Uint8Array {
  const tensorType = (dims: Array<{ dimParam?: string; dimValue?: number }>) => ({ tensorType: { elemType: 1, shape: { dim: dims } } });
  const shape = [{ dimParam: 'batch_size' }, { dimParam: 'num_tokens' }, { dimValue: dim }];
  return onnx.ModelProto.encode({
    irVersion: 8,
    producerName: 'twinlens-import',
    opsetImport: [{ domain: '', version: 17 }],
    graph: {
      name: 'identity_projector',
      node: [{ opType: 'Identity', input: ['features'], output: ['embeds'], name: 'identity' }],
      input: [{ name: 'features', type: tensorType(shape) }],
      output: [{ name: 'embeds', type: tensorType(shape) }],
    },
  }).finish();
}
