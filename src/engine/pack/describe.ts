/**
 * What a pack offers, for the UI and `packs validate`: each answer mode with
 * its availability and reason, and each tap (the study's named layers first)
 * resolved against the UNet graph.
 */
import type { ModeInfo, TapInfo } from '../../shared/contract.js';
import { toTwinLensError } from '../../shared/errors.js';
import type { GraphTaps } from '../graph/graph-taps.js';
import { STUDY_TAPS, listGraphTaps } from '../graph/tap-alias.js';
import type { Pack } from './pack.js';

const LABELS: Record<string, string> = { clip: 'CLIP-only', diffusion: 'Diffusion-only', fused: 'Fused' };

export function describeModes(pack: Pack): ModeInfo[] {
  return Object.entries(pack.manifest.modes).map(([id, m]) => {
    const reason = pack.modeUnavailableReason(id);
    return {
      id,
      label: m.label ?? LABELS[id] ?? id,
      description: m.description ?? '',
      inputs: m.inputs,
      fusion: m.fusion,
      extra: m.extra,
      available: !reason,
      ...(reason ? { reason } : {}),
    };
  });
}

export async function describeTaps(pack: Pack, taps: GraphTaps): Promise<TapInfo[]> {
  const d = pack.manifest.diffusion!;
  const graph = await taps.graph();
  const names = new Set<string>([d.defaults.tap, ...STUDY_TAPS, ...Object.keys(d.taps)]);
  for (const a of listGraphTaps(graph)) if (!a.alias.startsWith('CLIP-')) names.add(a.alias);
  const out: TapInfo[] = [];
  for (const alias of names) {
    try {
      const tensorName = await taps.resolve(alias);
      out.push({ alias, target: d.taps[alias] ?? alias, tensorName, available: true, study: (STUDY_TAPS as readonly string[]).includes(alias) });
    } catch (e) {
      out.push({
        alias,
        target: d.taps[alias] ?? alias,
        available: false,
        reason: toTwinLensError(e).message,
        study: (STUDY_TAPS as readonly string[]).includes(alias),
      });
    }
  }
  return out;
}
