/**
 * From encoder features to the LLM's visual tokens, per answer mode:
 * - none: one 2-layer-MLP projector over one encoder's tokens;
 * - concat: each encoder through its own projector, CLIP tokens then
 *   diffusion tokens (the study's concatenation fusion);
 * - cross-attention: one cross-attention projector ONNX (xattn) taking both token sets
 *   (the study's best variant).
 * Projector contract: "features" [1,N,D] → "embeds" [1,N,H]; xattn:
 * "clip_features", "diffusion_features" → "embeds".
 */
import { TwinLensError } from '../../shared/errors.js';
import type { ModeSection } from '../../shared/manifest.js';
import type { OnnxSession } from '../onnx/session.js';
import { asFloat32 } from '../onnx/session.js';

export interface Tokens {
  /** [count, dim]. */
  data: Float32Array;
  count: number;
  dim: number;
  /** The tokens' grid (height·width = count), where they come from one (a diffusion tap). */
  grid?: { height: number; width: number };
}

export interface VisualTokens {
  embeds: Float32Array;
  tokens: number;
  hidden: number;
}

export interface ModeProjectors {
  clip?: OnnxSession;
  diffusion?: OnnxSession;
  xattn?: OnnxSession;
}

async function project(s: OnnxSession, x: Tokens, what: string): Promise<VisualTokens> {
  const out = await s.run({ features: { dims: [1, x.count, x.dim], data: x.data } }, ['embeds']);
  const e = out.embeds;
  if (!e || e.dims.length !== 3 || e.dims[1] !== x.count) {
    throw new TwinLensError(
      'ONNX_IO_MISMATCH',
      `${what} projector returned [${e?.dims.join(',')}] for ${x.count} tokens`,
      'A projector maps [1,N,D] features to [1,N,H] embeds',
    );
  }
  return { embeds: asFloat32(e), tokens: e.dims[1], hidden: e.dims[2] };
}

function checkDim(s: OnnxSession, input: string, x: Tokens, what: string): void {
  const d = s.inputs.get(input)?.shape[2];
  if (typeof d === 'number' && d > 0 && d !== x.dim) {
    throw new TwinLensError(
      'ONNX_IO_MISMATCH',
      `${what} projector expects ${d}-dimensional features but the encoder gives ${x.dim}`,
      'The projector was trained for another tap or encoder; pick the tap it was trained with',
    );
  }
}

export async function visualTokens(mode: ModeSection, p: ModeProjectors, feats: { clip?: Tokens; diffusion?: Tokens }): Promise<VisualTokens> {
  if (mode.fusion === 'cross-attention') {
    if (!p.xattn || !feats.clip || !feats.diffusion)
      throw new TwinLensError('MODE_UNAVAILABLE', 'cross-attention fusion needs the xattn projector and both encoders');
    checkDim(p.xattn, 'clip_features', feats.clip, 'xattn (CLIP side)');
    checkDim(p.xattn, 'diffusion_features', feats.diffusion, 'xattn (diffusion side)');
    const out = await p.xattn.run(
      {
        clip_features: { dims: [1, feats.clip.count, feats.clip.dim], data: feats.clip.data },
        diffusion_features: { dims: [1, feats.diffusion.count, feats.diffusion.dim], data: feats.diffusion.data },
      },
      ['embeds'],
    );
    const e = out.embeds;
    if (!e || e.dims.length !== 3) throw new TwinLensError('ONNX_IO_MISMATCH', `xattn projector returned [${e?.dims.join(',')}]`);
    return { embeds: asFloat32(e), tokens: e.dims[1], hidden: e.dims[2] };
  }
  const parts: VisualTokens[] = [];
  for (const input of mode.inputs) {
    const s = p[input];
    const x = feats[input];
    if (!s || !x) throw new TwinLensError('MODE_UNAVAILABLE', `the ${input} projector or features are missing`);
    checkDim(s, 'features', x, input);
    parts.push(await project(s, x, input));
  }
  if (parts.length === 1) return parts[0];
  const hidden = parts[0].hidden;
  if (parts.some((x) => x.hidden !== hidden)) {
    throw new TwinLensError(
      'ONNX_IO_MISMATCH',
      `projectors disagree on the LLM width (${parts.map((x) => x.hidden).join(' vs ')})`,
      'Both projectors must map into the same LLM embedding space',
    );
  }
  const tokens = parts.reduce((a, x) => a + x.tokens, 0);
  const embeds = new Float32Array(tokens * hidden);
  let off = 0;
  for (const x of parts) {
    embeds.set(x.embeds, off);
    off += x.embeds.length;
  }
  return { embeds, tokens, hidden };
}
