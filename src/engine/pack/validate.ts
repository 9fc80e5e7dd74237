/**
 * `twinlens packs validate`: everything that can be checked about a pack
 * without asking it a question — the manifest, paths staying inside the pack,
 * files present and matching their sha256, every ONNX session opening, every
 * session's inputs and outputs matching the contract, tokenizers and configs
 * parsing, and the taps resolving in the UNet graph. The report lists each
 * check; the pack is usable when no check failed.
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import type { PackInfo } from '../../shared/contract.js';
import { toTwinLensError } from '../../shared/errors.js';
import { listOnnxRefs } from '../../shared/manifest.js';
import { Engine } from '../engine.js';
import { TextTokenizer } from '../llm/tokenizer.js';
import type { ProviderChoice } from '../onnx/providers.js';
import { OnnxSession } from '../onnx/session.js';
import { contractsFor } from './contracts.js';
import { Pack } from './pack.js';

export type CheckStatus = 'ok' | 'warn' | 'error';

export interface Check {
  check: string;
  status: CheckStatus;
  message: string;
  code?: string;
}

export interface ValidationReport {
  dir: string;
  name?: string;
  usable: boolean;
  checks: Check[];
  modes?: PackInfo['modes'];
}

async function sha256File(file: string): Promise<string> {
  const h = createHash('sha256');
  for await (const chunk of fs.createReadStream(file)) h.update(chunk as Buffer);
  return h.digest('hex');
}

export async function validatePack(dir: string, opts: { provider?: ProviderChoice } = {}): Promise<ValidationReport> {
  const checks: Check[] = [];
  const add = (check: string, status: CheckStatus, message: string, code?: string) => checks.push({ check, status, message, ...(code ? { code } : {}) });
  let pack: Pack;
  try {
    pack = Pack.load(dir);
    add('manifest', 'ok', `pack.json parses (format ${pack.manifest.format} v${pack.manifest.version}, "${pack.name}")`);
  } catch (e) {
    const err = toTwinLensError(e);
    add('manifest', 'error', err.oneLine(), err.code);
    return { dir, usable: false, checks };
  }

  const contracts = contractsFor(pack.manifest);
  for (const { label, ref } of listOnnxRefs(pack.manifest)) {
    let file: string;
    try {
      file = pack.resolve(ref.path);
    } catch (e) {
      const err = toTwinLensError(e);
      add(label, 'error', err.oneLine(), err.code);
      continue;
    }
    if (ref.sha256) {
      const got = await sha256File(file);
      if (got !== ref.sha256) {
        add(label, 'error', `${ref.path}: sha256 ${got.slice(0, 12)}… does not match pack.json's ${ref.sha256.slice(0, 12)}…`, 'PACK_HASH_MISMATCH');
        continue;
      }
    }
    let s: OnnxSession;
    try {
      s = await OnnxSession.open(file, { provider: opts.provider ?? 'cpu', label });
    } catch (e) {
      const err = toTwinLensError(e);
      add(label, 'error', err.oneLine(), err.code);
      continue;
    }
    const problems: string[] = [];
    const rules = contracts[label];
    for (const [kind, list, meta] of [
      ['input', rules?.inputs ?? [], s.inputs],
      ['output', rules?.outputs ?? [], s.outputs],
    ] as const) {
      for (const rule of list) {
        const m = meta.get(rule.name);
        if (!m) {
          problems.push(`missing ${kind} "${rule.name}" (has ${[...meta.keys()].join(', ') || 'none'})`);
          continue;
        }
        if (m.type !== 'unknown' && !rule.dtypes.includes(m.type)) problems.push(`${kind} "${rule.name}" is ${m.type}, expected ${rule.dtypes.join(' or ')}`);
        if (m.shape.length && rule.ranks.length && !rule.ranks.includes(m.shape.length))
          problems.push(`${kind} "${rule.name}" has rank ${m.shape.length}, expected ${rule.ranks.join(' or ')}`);
      }
    }
    s.dispose();
    if (problems.length) add(label, 'error', `${ref.path}: ${problems.join('; ')}`, 'ONNX_IO_MISMATCH');
    else add(label, 'ok', `${ref.path} opens; inputs ${[...s.inputs.values()].map((x) => `${x.name}:${x.type}`).join(', ')}`);
  }

  const m = pack.manifest;
  const jsonChecks: Array<[string, string | undefined]> = [
    ['diffusion.scheduler', m.diffusion?.scheduler],
    ['clip.preprocessor', m.clip?.preprocessor],
  ];
  for (const [label, rel] of jsonChecks) {
    if (!rel) continue;
    try {
      pack.readJson(rel);
      add(label, 'ok', `${rel} parses`);
    } catch (e) {
      const err = toTwinLensError(e);
      add(label, 'error', err.oneLine(), err.code);
    }
  }
  if (m.llm) {
    try {
      const tok = await TextTokenizer.load(pack.resolve(m.llm.tokenizer), m.llm.tokenizerConfig ? pack.resolve(m.llm.tokenizerConfig) : undefined);
      tok.requireId(m.llm.imageToken, 'llm.imageToken');
      add('llm.tokenizer', 'ok', `${m.llm.tokenizer} loads; image token ${m.llm.imageToken} is id ${tok.idOf(m.llm.imageToken)}`);
    } catch (e) {
      const err = toTwinLensError(e);
      add('llm.tokenizer', 'error', err.oneLine(), err.code);
    }
  }

  let info: PackInfo | undefined;
  if (!checks.some((c) => c.status === 'error')) {
    try {
      const engine = await Engine.open(pack.dir, { provider: opts.provider ?? 'cpu' });
      info = engine.packInfo();
      engine.dispose();
      if (m.diffusion) {
        const def = info.taps.find((t) => t.alias === m.diffusion!.defaults.tap);
        if (def?.available) add('taps.default', 'ok', `default tap ${def.alias} → ${def.tensorName}`);
        else add('taps.default', 'error', `default tap ${m.diffusion.defaults.tap} does not resolve: ${def?.reason ?? 'unknown'}`, 'TAP_NOT_FOUND');
        const missing = info.taps.filter((t) => t.study && !t.available).map((t) => t.alias);
        if (missing.length) add('taps.study', 'warn', `study taps not in this UNet: ${missing.join(', ')}`);
        else add('taps.study', 'ok', 'all six study taps resolve');
      }
      for (const mode of info.modes) {
        add(`modes.${mode.id}`, mode.available ? 'ok' : 'warn', mode.available ? `${mode.label}: available` : `${mode.label}: unavailable — ${mode.reason}`);
      }
    } catch (e) {
      const err = toTwinLensError(e);
      add('engine', 'error', err.oneLine(), err.code);
    }
  }
  return { dir: pack.dir, name: pack.name, usable: !checks.some((c) => c.status === 'error'), checks, modes: info?.modes };
}
