/**
 * Options several commands share, declared once so their names, parsers and
 * meanings cannot drift apart: the diffusion knobs (--t, --guidance, --tap,
 * --seed, --ensemble), --max-tokens, --provider and --no-progress; and how
 * the parsed values become the contract's DiffusionSettings.
 */
import type { Command } from 'commander';
import { PROVIDER_CHOICES, type DiffusionSettings } from '../shared/contract.js';
import { parseIntStrict, parseNumber } from './output.js';

export type DiffusionOption = 't' | 'guidance' | 'tap' | 'seed' | 'ensemble';

/** What commander parses from the shared options (a command declares the ones it adds). */
export interface SharedCliOptions {
  t?: number;
  guidance?: number;
  tap?: string;
  seed?: number;
  ensemble?: number;
  maxTokens?: number;
  provider: string;
  /** false with --no-progress. */
  progress?: boolean;
  json?: boolean;
}

const HELP: Record<DiffusionOption, string> = {
  t: 'diffusion timestep (study: 10…500; default from the pack: 50)',
  guidance: 'guidance scale on features, f_u + s·(f_c − f_u) (default 4)',
  tap: 'UNet layer to read, e.g. U-L1-R1-B0-Cross-Q',
  seed: 'noise seed',
  ensemble: 'average features over n noise draws',
};

/** Adds the named diffusion options (in this order), with per-command help where it says more. */
export function diffusionOptions(cmd: Command, which: readonly DiffusionOption[], help: Partial<Record<DiffusionOption, string>> = {}): Command {
  for (const k of which) {
    const text = help[k] ?? HELP[k];
    if (k === 't') cmd.option('--t <n>', text, parseIntStrict('--t'));
    else if (k === 'guidance') cmd.option('--guidance <s>', text, parseNumber('--guidance'));
    else if (k === 'tap') cmd.option('--tap <alias>', text);
    else if (k === 'seed') cmd.option('--seed <n>', text, parseIntStrict('--seed'));
    else cmd.option('--ensemble <n>', text, parseIntStrict('--ensemble'));
  }
  return cmd;
}

/** The diffusion settings the options set (unset ones left out, so the pack's defaults apply). */
export function diffusionFrom(o: Partial<Record<DiffusionOption, string | number>>): DiffusionSettings {
  const out: DiffusionSettings = {};
  if (o.t !== undefined) out.t = Number(o.t);
  if (o.guidance !== undefined) out.guidance = Number(o.guidance);
  if (o.tap !== undefined) out.tap = String(o.tap);
  if (o.seed !== undefined) out.seed = Number(o.seed);
  if (o.ensemble !== undefined) out.ensemble = Number(o.ensemble);
  return out;
}

export function maxTokensOption(cmd: Command, help = 'answer length limit'): Command {
  return cmd.option('--max-tokens <n>', help, parseIntStrict('--max-tokens'));
}

export function providerOption(cmd: Command, fallback = 'auto'): Command {
  return cmd.option('--provider <name>', `execution provider: ${PROVIDER_CHOICES.join('|')}`, fallback);
}

/** --provider plus --no-progress, for the long-running commands. */
export function runOptions(cmd: Command): Command {
  return providerOption(cmd).option('--no-progress', 'no progress output on stderr');
}
