/**
 * The input/output contract each kind of ONNX file in a pack must meet, as
 * the public exports define it (REFERENCE.md): names, allowed dtypes and
 * ranks. `packs validate` checks every session against these before a user
 * waits for an answer that can never come.
 */
import type { PackManifest } from '../../shared/manifest.js';
import type { DType } from '../onnx/session.js';

export interface IoRule {
  name: string;
  dtypes: DType[];
  /** Allowed ranks; empty = any. */
  ranks: number[];
}

export interface ModelContract {
  inputs: IoRule[];
  outputs: IoRule[];
}

const F = ['float32', 'float16'] as DType[];

export function contractsFor(m: PackManifest): Record<string, ModelContract> {
  const c: Record<string, ModelContract> = {};
  if (m.diffusion) {
    const d = m.diffusion;
    c['diffusion.vaeEncoder'] = { inputs: [{ name: 'sample', dtypes: F, ranks: [4] }], outputs: [{ name: d.vaeOutput, dtypes: F, ranks: [4] }] };
    c['diffusion.textEncoder'] = {
      inputs: [{ name: 'input_ids', dtypes: ['int32', 'int64'], ranks: [2] }],
      outputs: [{ name: d.textEncoder.output, dtypes: F, ranks: [3] }],
    };
    c['diffusion.unet'] = {
      inputs: [
        { name: 'sample', dtypes: F, ranks: [4] },
        { name: 'timestep', dtypes: ['int64', 'float32', 'float16'], ranks: [0, 1] },
        { name: 'encoder_hidden_states', dtypes: F, ranks: [3] },
      ],
      outputs: [{ name: d.unetOutput, dtypes: F, ranks: [4] }],
    };
  }
  if (m.clip) {
    c['clip.vision'] = {
      inputs: [{ name: 'pixel_values', dtypes: F, ranks: [4] }],
      outputs: m.clip.layer === 'last' ? [{ name: 'last_hidden_state', dtypes: F, ranks: [3] }] : [],
    };
  }
  const llmRules = (numLayers: number) => ({
    embed: { inputs: [{ name: 'input_ids', dtypes: ['int64'] as DType[], ranks: [2] }], outputs: [{ name: 'inputs_embeds', dtypes: F, ranks: [3] }] },
    decoder: {
      inputs: [
        { name: 'inputs_embeds', dtypes: F, ranks: [3] },
        { name: 'attention_mask', dtypes: ['int64'] as DType[], ranks: [2] },
        { name: 'position_ids', dtypes: ['int64'] as DType[], ranks: [2] },
        ...Array.from({ length: numLayers }, (_, i) => [
          { name: `past_key_values.${i}.key`, dtypes: F, ranks: [4] },
          { name: `past_key_values.${i}.value`, dtypes: F, ranks: [4] },
        ]).flat(),
      ],
      outputs: [
        { name: 'logits', dtypes: F, ranks: [3] },
        ...Array.from({ length: numLayers }, (_, i) => [
          { name: `present.${i}.key`, dtypes: F, ranks: [4] },
          { name: `present.${i}.value`, dtypes: F, ranks: [4] },
        ]).flat(),
      ],
    },
  });
  if (m.llm) {
    const r = llmRules(m.llm.numLayers);
    c['llm.embedTokens'] = r.embed;
    c['llm.decoder'] = r.decoder;
    for (const [id, mode] of Object.entries(m.modes)) {
      if (mode.llm?.embedTokens) c[`modes.${id}.llm.embedTokens`] = r.embed;
      if (mode.llm?.decoder) c[`modes.${id}.llm.decoder`] = r.decoder;
    }
  }
  const proj: ModelContract = { inputs: [{ name: 'features', dtypes: F, ranks: [3] }], outputs: [{ name: 'embeds', dtypes: F, ranks: [3] }] };
  for (const [id, mode] of Object.entries(m.modes)) {
    if (mode.projectors.clip) c[`modes.${id}.projectors.clip`] = proj;
    if (mode.projectors.diffusion) c[`modes.${id}.projectors.diffusion`] = proj;
    if (mode.projectors.xattn) {
      c[`modes.${id}.projectors.xattn`] = {
        inputs: [
          { name: 'clip_features', dtypes: F, ranks: [3] },
          { name: 'diffusion_features', dtypes: F, ranks: [3] },
        ],
        outputs: [{ name: 'embeds', dtypes: F, ranks: [3] }],
      };
    }
  }
  return c;
}
