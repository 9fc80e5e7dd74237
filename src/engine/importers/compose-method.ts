/**
 * The `composePack` contract method (the Models view's composer): the same
 * sequence as `twinlens packs import` — read the folders, compose the pack,
 * validate it — reduced to what the view shows: the checks, the answer modes
 * with reasons, the other capabilities, and the composer's notes.
 */
import type { ComposePackParams, ComposePackResult } from '../../shared/contract.js';
import { TwinLensError } from '../../shared/errors.js';
import type { ProviderChoice } from '../onnx/providers.js';
import { importPack } from './import-pack.js';

export async function composePackMethod(p: ComposePackParams, opts: { provider?: ProviderChoice } = {}): Promise<ComposePackResult> {
  if (!p.sd && !p.clip && !p.llm && !p.trained?.length)
    throw new TwinLensError('INVALID_ARGUMENT', 'Nothing to compose', 'Give at least one of the SD, CLIP or LLM folders');
  const r = await importPack({
    ...(p.sd ? { sd: p.sd } : {}),
    ...(p.clip ? { clip: p.clip } : {}),
    ...(p.llm ? { llm: p.llm } : {}),
    ...(p.projectors ? { projectors: p.projectors } : {}),
    ...(p.trained?.length ? { trained: p.trained } : {}),
    out: p.out,
    ...(p.name ? { name: p.name } : {}),
    mode: p.copy ? 'copy' : 'link',
    validate: true,
    provider: opts.provider ?? 'cpu',
  });
  const checks = (r.validation?.checks ?? []).map((c) => ({ check: c.check, status: c.status, message: c.message, ...(c.code ? { code: c.code } : {}) }));
  const modes = (r.validation?.modes ?? []).map((m) => ({ id: m.id, label: m.label, available: m.available, ...(m.reason ? { reason: m.reason } : {}) }));
  const capabilities = r.capabilities
    .filter((c) => !c.id.startsWith('mode:'))
    .map((c) => ({ id: c.id, label: c.label, available: c.available, ...(c.reason ? { reason: c.reason } : {}) }));
  // The composer's notes (files copied, templates replaced, …); warnings from validation stay in `checks` with status 'warn'.
  return { dir: r.dir, name: r.manifest.name, usable: r.usable, checks, modes, capabilities, warnings: [...r.notes] };
}
