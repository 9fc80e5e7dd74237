/**
 * A model pack on disk: its folder, its parsed manifest, and safe path
 * resolution. Every path in pack.json is resolved against the pack folder and
 * must stay inside it after symlinks are followed, so a manifest cannot make
 * the engine read (or hash, or load) files elsewhere.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { TwinLensError } from '../../shared/errors.js';
import { type ModeSection, PackManifest } from '../../shared/manifest.js';

export const MANIFEST_FILE = 'pack.json';

function formatIssues(issues: ReadonlyArray<{ path: PropertyKey[]; message: string }>): string {
  return issues
    .slice(0, 8)
    .map((i) => `${i.path.length ? i.path.map(String).join('.') : '(root)'}: ${i.message}`)
    .join('; ');
}

export class Pack {
  /** Models whose external-data file is missing (model path -> reason), filled by checkExternalData on open. */
  readonly missingExternal = new Map<string, string>();

  private constructor(
    readonly dir: string,
    readonly manifest: PackManifest,
  ) {}

  static load(dir: string): Pack {
    const abs = path.resolve(dir);
    let real: string;
    try {
      real = fs.realpathSync(abs);
    } catch {
      throw new TwinLensError('PACK_NOT_FOUND', `Pack folder ${abs} does not exist`, 'Pass the folder that contains pack.json');
    }
    const file = path.join(real, MANIFEST_FILE);
    let text: string;
    try {
      text = fs.readFileSync(file, 'utf8');
    } catch {
      throw new TwinLensError(
        'PACK_NOT_FOUND',
        `${abs} has no ${MANIFEST_FILE}`,
        'Pass the folder that contains pack.json, or compose one with `twinlens packs import`',
      );
    }
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch (e) {
      throw new TwinLensError('PACK_MANIFEST_INVALID', `${file} is not valid JSON: ${(e as Error).message}`, 'Fix the JSON syntax');
    }
    const parsed = PackManifest.safeParse(json);
    if (!parsed.success) {
      throw new TwinLensError(
        'PACK_MANIFEST_INVALID',
        `${file} does not match the pack format: ${formatIssues(parsed.error.issues)}`,
        'See "Pack format" in the README',
      );
    }
    const pack = new Pack(real, parsed.data);
    // Fail early on escaping paths, before anything is opened.
    for (const rel of pack.allPaths()) pack.resolve(rel, { mustExist: false });
    return pack;
  }

  get name(): string {
    return this.manifest.name;
  }

  /** A model file that is present and whose external data is too (throws PACK_FILE_MISSING otherwise). */
  resolveModel(rel: string): string {
    const abs = this.resolve(rel);
    const ext = this.missingExternal.get(rel);
    if (ext) {
      const unreadable = ext.includes('permission denied');
      throw new TwinLensError(
        'PACK_FILE_MISSING',
        ext,
        unreadable
          ? 'Make the pack files readable by this user (chmod -R a+rX <pack>) or run as their owner'
          : 'Download the weights file next to the model (weights.pb or model.onnx_data)',
      );
    }
    return abs;
  }

  /** Resolve a manifest path inside the pack; throws PACK_PATH_ESCAPE or PACK_FILE_MISSING. */
  resolve(rel: string, opts: { mustExist?: boolean } = {}): string {
    const mustExist = opts.mustExist ?? true;
    if (path.isAbsolute(rel)) {
      throw new TwinLensError('PACK_PATH_ESCAPE', `pack.json path "${rel}" is absolute`, 'Paths in pack.json must be relative to the pack folder');
    }
    const abs = path.resolve(this.dir, rel);
    if (!isInside(this.dir, abs)) {
      throw new TwinLensError('PACK_PATH_ESCAPE', `pack.json path "${rel}" points outside the pack folder`, 'Copy or link the file into the pack folder');
    }
    let real: string;
    try {
      real = fs.realpathSync(abs);
    } catch {
      if (mustExist) throw new TwinLensError('PACK_FILE_MISSING', `${rel} is missing from pack ${this.name}`, `Expected at ${abs}`);
      return abs;
    }
    if (!isInside(this.dir, real)) {
      throw new TwinLensError(
        'PACK_PATH_ESCAPE',
        `pack.json path "${rel}" resolves (through a link) outside the pack folder`,
        'Copy the file into the pack folder',
      );
    }
    return real;
  }

  exists(rel: string): boolean {
    try {
      this.resolve(rel);
      return true;
    } catch {
      return false;
    }
  }

  readJson<T = unknown>(rel: string): T {
    const file = this.resolve(rel);
    try {
      return JSON.parse(fs.readFileSync(file, 'utf8')) as T;
    } catch (e) {
      throw new TwinLensError(
        'PACK_MANIFEST_INVALID',
        `${rel} in pack ${this.name} is not valid JSON: ${(e as Error).message}`,
        'Re-export or re-download the file',
      );
    }
  }

  /** Every relative path the manifest mentions. */
  allPaths(): string[] {
    const m = this.manifest;
    const out: string[] = [];
    if (m.diffusion) out.push(m.diffusion.vaeEncoder.path, m.diffusion.textEncoder.path, m.diffusion.unet.path, m.diffusion.tokenizer, m.diffusion.scheduler);
    if (m.clip) out.push(m.clip.vision.path, m.clip.preprocessor);
    if (m.llm) {
      out.push(m.llm.embedTokens.path, m.llm.decoder.path, m.llm.tokenizer);
      if (m.llm.tokenizerConfig) out.push(m.llm.tokenizerConfig);
    }
    for (const mode of Object.values(m.modes)) {
      for (const ref of Object.values(mode.projectors)) if (ref) out.push(ref.path);
      if (mode.llm?.embedTokens) out.push(mode.llm.embedTokens.path);
      if (mode.llm?.decoder) out.push(mode.llm.decoder.path);
    }
    return out;
  }

  /** Why a mode cannot run, or undefined when all its parts are present. */
  modeUnavailableReason(id: string): string | undefined {
    const mode: ModeSection | undefined = this.manifest.modes[id];
    if (!mode) return `pack ${this.name} has no mode "${id}"`;
    const m = this.manifest;
    if (!m.llm) return 'the pack has no language model (llm section)';
    if (mode.inputs.includes('clip') && !m.clip) return 'the pack has no CLIP vision encoder';
    if (mode.inputs.includes('diffusion') && !m.diffusion) return 'the pack has no diffusion model';
    const need: Array<[string, string | undefined]> = [];
    if (mode.fusion === 'cross-attention') need.push(['cross-attention projector', mode.projectors.xattn?.path]);
    else {
      if (mode.inputs.includes('clip')) need.push(['CLIP projector', mode.projectors.clip?.path]);
      if (mode.inputs.includes('diffusion')) need.push(['diffusion projector', mode.projectors.diffusion?.path]);
    }
    if (mode.fusion === 'none' && mode.inputs.length !== 1) return `mode "${id}" has ${mode.inputs.length} inputs but no fusion`;
    need.push(['LLM decoder', mode.llm?.decoder?.path ?? m.llm.decoder.path], ['LLM embed_tokens', mode.llm?.embedTokens?.path ?? m.llm.embedTokens.path]);
    // Every file the mode reads at run time, not only its own: a missing tokenizer used to leave the
    // mode listed as available and fail on the first question.
    need.push(['LLM tokenizer', m.llm.tokenizer]);
    if (m.llm.tokenizerConfig) need.push(['LLM tokenizer config', m.llm.tokenizerConfig]);
    if (mode.inputs.includes('clip') && m.clip) need.push(['CLIP vision encoder', m.clip.vision.path], ['CLIP preprocessor config', m.clip.preprocessor]);
    if (mode.inputs.includes('diffusion') && m.diffusion) {
      const d = m.diffusion;
      need.push(
        ['VAE encoder', d.vaeEncoder.path],
        ['text encoder', d.textEncoder.path],
        ['UNet', d.unet.path],
        ['diffusion tokenizer', d.tokenizer],
        ['scheduler config', d.scheduler],
      );
    }
    for (const [what, rel] of need) {
      if (!rel) return `the ${what} is not listed in pack.json`;
      if (!this.exists(rel)) return `the ${what} file ${rel} is missing`;
      const ext = this.missingExternal.get(rel);
      if (ext) return `the ${what}: ${ext}`;
    }
    return undefined;
  }
}

export function isInside(root: string, p: string): boolean {
  const rel = path.relative(root, p);
  return rel === '' || (!rel.startsWith('..') && !path.isAbsolute(rel));
}
