/**
 * What a composed pack can serve, in the user's words: feature maps,
 * cross-attention maps, correspondence, CLIP features, and each answer mode —
 * available or not, and why not.
 *
 * Why: the study's visual analyses need only Stable Diffusion (and CLIP for
 * the comparisons); answers need an LLM and trained projectors. A user who
 * imports SD + CLIP alone should see that maps work and answers do not, with
 * the reason, instead of discovering it from an error.
 */
import type { ModeInfo } from '../../shared/contract.js';
import type { PackManifest } from '../../shared/manifest.js';
import type { AttentionReport } from './attention-check.js';

export interface Capability {
  id: string;
  label: string;
  available: boolean;
  reason?: string;
}

export function packCapabilities(m: PackManifest, attention: AttentionReport | undefined, modes: readonly ModeInfo[] | undefined): Capability[] {
  const out: Capability[] = [];
  const noSd = 'the pack has no Stable Diffusion model (--sd)';
  if (m.diffusion) {
    const def = attention?.studyTaps.find((t) => t.alias === m.diffusion!.defaults.tap);
    const tapOk = !attention || attention.studyTaps.some((t) => t.available);
    out.push({
      id: 'feature-maps',
      label: 'Feature maps (UNet taps, PCA)',
      available: tapOk,
      ...(tapOk ? {} : { reason: attention?.studyTaps[0]?.reason ?? 'no tap resolves' }),
    });
    if (def && !def.available) out.push({ id: 'default-tap', label: `Default tap ${def.alias}`, available: false, reason: def.reason });
    const maps = attention?.crossAttentionMaps;
    out.push({
      id: 'cross-attention',
      label: 'Cross-attention maps (per token, cond − uncond)',
      available: maps ? maps.available : true,
      ...(maps && !maps.available ? { reason: maps.reason } : {}),
    });
    out.push({
      id: 'correspondence',
      label: 'Correspondence (DIFT-style feature matching)',
      available: tapOk,
      ...(tapOk ? {} : { reason: 'no UNet tap resolves' }),
    });
  } else {
    for (const [id, label] of [
      ['feature-maps', 'Feature maps (UNet taps, PCA)'],
      ['cross-attention', 'Cross-attention maps'],
      ['correspondence', 'Correspondence'],
    ]) {
      out.push({ id, label, available: false, reason: noSd });
    }
  }
  out.push(
    m.clip
      ? {
          id: 'clip-features',
          label:
            m.clip.layer === 'penultimate'
              ? "CLIP features (LLaVA's penultimate layer)"
              : m.clip.layer === 'last'
                ? 'CLIP features (last layer)'
                : `Vision-encoder features (${m.clip.layer})`,
          available: true,
        }
      : { id: 'clip-features', label: 'CLIP features', available: false, reason: 'the pack has no CLIP vision encoder (--clip)' },
  );
  if (!modes || modes.length === 0) {
    out.push({
      id: 'answers',
      label: 'Answers (LLM)',
      available: false,
      reason: !m.llm ? 'the pack has no LLM (--llm)' : 'no answer mode: pass --projectors with trained projectors (clip.onnx, diffusion.onnx, xattn.onnx)',
    });
  }
  for (const mode of modes ?? []) {
    out.push({
      id: `mode:${mode.id}`,
      label: `Answer mode ${mode.id} (${mode.label})`,
      available: mode.available,
      ...(mode.reason ? { reason: mode.reason } : {}),
    });
  }
  return out;
}
