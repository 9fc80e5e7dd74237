/**
 * `twinlens-desktop --self-test` (or TWINLENS_SELF_TEST=1): a check for real
 * machines and installers. Without a window, through the same EngineHost and
 * engine process as the app, it opens the startup pack (the built-in one in
 * a fresh install), asks the first question of the pack's first built-in
 * suite in every honest mode, and prints one JSON line: the pack, each mode's
 * answer and time, and ok. main.ts exits 0 when ok, else 1.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { ContractMethod, ContractParams, ContractResults } from '../shared/contract.js';
import { toTwinLensError } from '../shared/errors.js';

export interface SelfTestHost {
  call<M extends ContractMethod>(method: M, params: ContractParams[M]): Promise<ContractResults[M]>;
}

export interface SelfTestResult {
  ok: boolean;
  pack?: string;
  question?: string;
  expected?: string;
  answers: Record<string, { text: string; ms: number; error?: string }>;
  seconds: number;
  error?: string;
}

export async function runSelfTest(host: SelfTestHost): Promise<SelfTestResult> {
  const t0 = performance.now();
  const out: SelfTestResult = { ok: false, answers: {}, seconds: 0 };
  try {
    const info = await host.call('packInfo', {});
    out.pack = info.name;
    const modes = info.modes.filter((m) => m.available && !m.extra).map((m) => m.id);
    if (!modes.length) throw new Error(`pack ${info.name} has no available answer mode`);
    const suites = await host.call('listSuites', {});
    const suite = suites.builtIn.find((s) => s.path.endsWith('.jsonl'));
    if (!suite) throw new Error(`pack ${info.name} ships no .jsonl suite to take a sample question from`);
    const first = fs
      .readFileSync(suite.path, 'utf8')
      .split('\n')
      .find((l) => l.trim());
    if (!first) throw new Error(`${suite.path} is empty`);
    const item = JSON.parse(first) as { image: string; question: string; answer?: unknown };
    out.question = item.question;
    if (item.answer !== undefined) out.expected = String(item.answer);
    const image = { path: path.resolve(path.dirname(suite.path), item.image) };
    const r = await host.call('ask', { image, question: item.question, modes, generation: { maxTokens: 16 } });
    for (const [id, a] of Object.entries(r.answers)) {
      out.answers[id] = { text: a.text, ms: Math.round(a.ms), ...(a.error ? { error: a.error.message } : {}) };
    }
    out.ok = modes.every((m) => out.answers[m] && !out.answers[m].error && out.answers[m].text.trim() !== '');
  } catch (e) {
    out.error = toTwinLensError(e).oneLine();
  }
  out.seconds = Math.round((performance.now() - t0) / 100) / 10;
  return out;
}
