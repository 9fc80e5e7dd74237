/**
 * The pack composer's commands, registered under the existing `packs`
 * command (packs.ts owns `validate`):
 * - `twinlens packs import --sd DIR --clip DIR --llm DIR [--projectors DIR] [--trained DIR ...] --out PACK`:
 *   compose a pack from published ONNX exports, validate it, print what it can serve;
 * - `twinlens packs estimate PACK [--tap A] [--max-length N]`: memory per
 *   component and the UNet cost of a tap, before loading anything.
 */
import type { Command } from 'commander';
import { type ImportOptions, type ImportReport, importPack } from '../../engine/importers/import-pack.js';
import type { PackEstimate } from '../../shared/contract.js';
import { estimatePack } from '../../engine/importers/memory-estimate.js';
import { ONNX_VARIANTS, type OnnxVariant, formatBytes } from '../../engine/importers/onnx-component.js';
import type { ProviderChoice } from '../../engine/onnx/providers.js';
import { TwinLensError } from '../../shared/errors.js';
import { fail, parseIntStrict, printJson } from '../output.js';
import { defaultPackDir } from '../pack-path.js';

/** What commander parses: importPack's options, with the CLI's own spellings for the rest. */
type ImportCliOptions = Pick<ImportOptions, 'sd' | 'clip' | 'llm' | 'projectors' | 'trained' | 'out' | 'name' | 'imageSize'> & {
  copy?: boolean;
  clipVariant?: string;
  llmVariant?: string;
  validate: boolean;
  provider: string;
  json?: boolean;
};

const MARK = { ok: '✓', warn: '!', error: '✗' } as const;

/** The `packs` command registered by packs.ts, or a new one when absent. */
export function packsCommand(program: Command): Command {
  return program.commands.find((c) => c.name() === 'packs') ?? program.command('packs').description('Inspect, validate and compose model packs');
}

function variant(name: string, v: string | undefined): OnnxVariant | undefined {
  if (v === undefined) return undefined;
  if (!(ONNX_VARIANTS as readonly string[]).includes(v))
    throw new TwinLensError('INVALID_ARGUMENT', `${name} must be one of ${ONNX_VARIANTS.join(', ')}, got "${v}"`);
  return v as OnnxVariant;
}

function printReport(r: ImportReport): void {
  const w = (s: string) => process.stdout.write(`${s}\n`);
  w(`Pack ${r.manifest.name} written to ${r.dir}`);
  if (r.sd) {
    w(`  SD: ${r.sd.layout} layout${r.sd.pipelineClass ? ` (${r.sd.pipelineClass})` : ''}, family ${r.sd.family} (${r.sd.familySource})`);
    w(`      image ${r.sd.imageSize} px (${r.sd.imageSizeSource}); timestep ${r.sd.timestep}; UNet I/O ${r.sd.ioDtype}; text ids ${r.sd.textInputDtype}`);
    w(`      tokenizer from ${r.sd.tokenizer}, pad id ${r.sd.padTokenId}; UNet weights in ${r.sd.externalData.join(', ') || 'the .onnx file'}`);
  }
  if (r.clip) w(`  CLIP: ${r.clip.variant}, ${r.clip.numLayers} layers, features = ${r.clip.layer}${r.clip.tensor ? ` (${r.clip.tensor})` : ''}`);
  if (r.llm) {
    w(
      `  LLM: ${r.llm.variant}, ${r.llm.numLayers} layers, ${r.llm.numKvHeads} KV heads × ${r.llm.headDim}, cache ${r.llm.dtype}, image token ${r.llm.imageToken}, stop ${r.llm.stopTokens.join(' ') || '-'}`,
    );
  }
  if (r.projectors) w(`  Projectors: ${r.projectors.join(', ') || 'none'}`);
  for (const t of r.trained ?? []) w(`  Trained ${t.mode}: ${t.dir}${t.tunedLlm ? ' (projectors + tuned LLM)' : ' (projectors only)'}`);
  const p = r.placement;
  w(
    `  Files: ${p.hardlinked} hard-linked (${(p.bytesLinked / 1e6).toFixed(1)} MB, no extra disk), ${p.copied} copied (${(p.bytesCopied / 1e6).toFixed(1)} MB), ${p.written} written`,
  );
  for (const n of r.notes) w(`  note: ${n}`);
  if (r.validation) {
    w('Validation:');
    for (const c of r.validation.checks) w(`  ${MARK[c.status]} ${c.check}: ${c.message}`);
  }
  w('Can serve:');
  for (const c of r.capabilities) w(`  ${c.available ? '✓' : '✗'} ${c.label}${c.reason ? ` — ${c.reason}` : ''}`);
  w(r.usable ? 'Usable.' : 'NOT usable: fix the ✗ validation lines above.');
}

export function registerImport(program: Command): void {
  registerEstimate(program);
  packsCommand(program)
    .command('import')
    .description('Compose a pack from published ONNX exports (SD diffusers/Optimum folder, transformers.js CLIP and LLM), validate it, list what it can serve')
    .option('--sd <dir>', 'Stable Diffusion ONNX folder (unet/, text_encoder/, vae_encoder/, tokenizer/, scheduler/)')
    .option('--clip <dir>', 'CLIP vision encoder folder (transformers.js: onnx/vision_model.onnx, preprocessor_config.json)')
    .option('--llm <dir>', 'LLaVA-style LLM folder (transformers.js: onnx/embed_tokens.onnx, onnx/decoder_model_merged.onnx, tokenizer.json)')
    .option('--projectors <dir>', 'trained projectors (clip.onnx, diffusion.onnx, xattn.onnx, projectors.json)')
    .option(
      '--trained <dir...>',
      'one trained mode per folder, as the training export writes it (projectors/ + the stage-2 LLM in llm/); repeatable: every mode side by side in one pack',
    )
    .requiredOption('--out <dir>', 'pack folder to create (files are hard-linked into it: put it on the same disk as the models)')
    .option('--name <name>', 'pack name (default: the folder name)')
    .option('--copy', 'copy files instead of hard-linking them')
    .option('--image-size <px>', 'VAE input size (default: from unet/config.json or the graph, else 512)', parseIntStrict('--image-size'))
    .option('--clip-variant <v>', `CLIP file variant (${ONNX_VARIANTS.join(', ')})`)
    .option('--llm-variant <v>', `LLM file variant (${ONNX_VARIANTS.join(', ')})`)
    .option('--no-validate', 'skip opening every session after composing')
    .option('--provider <name>', 'execution provider used to validate', 'cpu')
    .option('--json', 'print the report as JSON')
    .action(async (o: ImportCliOptions) => {
      try {
        if (!o.sd && !o.clip && !o.llm && !o.trained?.length)
          throw new TwinLensError('INVALID_ARGUMENT', 'Nothing to import', 'Pass at least one of --sd, --clip, --llm');
        const report = await importPack({
          sd: o.sd,
          clip: o.clip,
          llm: o.llm,
          projectors: o.projectors,
          trained: o.trained,
          out: o.out,
          name: o.name,
          mode: o.copy ? 'copy' : 'link',
          imageSize: o.imageSize,
          clipVariant: variant('--clip-variant', o.clipVariant),
          llmVariant: variant('--llm-variant', o.llmVariant),
          validate: o.validate,
          provider: o.provider as ProviderChoice,
        });
        if (o.json) printJson(report);
        else printReport(report);
        if (!report.usable) {
          const first = report.validation?.checks.find((c) => c.status === 'error');
          process.stderr.write(`twinlens: error [${first?.code ?? 'PACK_MANIFEST_INVALID'}]: ${first?.check}: ${first?.message}\n`);
          process.exit(1);
        }
      } catch (e) {
        fail(e);
      }
    });
}

function macs(n: number): string {
  return n >= 1e12 ? `${(n / 1e12).toFixed(2)} TMAC` : n >= 1e9 ? `${(n / 1e9).toFixed(1)} GMAC` : `${(n / 1e6).toFixed(1)} MMAC`;
}

function printEstimate(e: PackEstimate): void {
  const w = (s: string) => process.stdout.write(`${s}\n`);
  const width = Math.max(9, ...e.components.map((c) => c.label.length));
  const col = (v: string, n = 11) => v.padStart(n);
  w(`Pack ${e.pack}${e.imageSize ? ` at ${e.imageSize} px` : ''}${e.maxLength ? `, LLM context ${e.maxLength} tokens` : ''}`);
  w(`  ${'component'.padEnd(width)} ${col('weights')} ${col('activations', 12)} ${col('KV cache')} ${col('total')}`);
  for (const c of e.components) {
    const kv = c.kvCacheBytes !== undefined ? formatBytes(c.kvCacheBytes) : '-';
    w(
      `  ${c.label.padEnd(width)} ${col(formatBytes(c.weightsBytes))} ${col(formatBytes(c.activationBytes), 12)} ${col(kv)} ${col(formatBytes(c.totalBytes))}${c.notes.length ? `  (${c.notes.join('; ')})` : ''}`,
    );
  }
  w(
    `  total ≈ ${formatBytes(e.totalBytes)}; available now ${formatBytes(e.freeBytes)} → ${e.fits ? 'fits' : 'does NOT fit: loading is refused unless forced (TWINLENS_FORCE_LOAD=1)'}`,
  );
  const t = e.tap;
  if (t?.cost) {
    w(
      `  UNet cost of tap ${t.alias}${t.tensor ? ` (${t.tensor})` : ''}: ${macs(t.cost.macsKept)} of ${macs(t.cost.macsTotal)} per batched pass (${(100 * t.cost.fraction).toFixed(0)} %), ${t.cost.nodesKept}/${t.cost.nodesTotal} nodes after pruning`,
    );
  }
  for (const n of e.notes) w(`  note: ${n}`);
}

export function registerEstimate(program: Command): void {
  packsCommand(program)
    .command('estimate')
    .description('Estimate memory per component (weights, activations, KV cache) and the UNet cost of a tap, before loading')
    .argument('[dir]', 'pack folder (default: built-in mini-world)')
    .option('--tap <alias>', 'tap whose pruned UNet cost to report (default: the pack default)')
    .option('--max-length <n>', 'LLM context length for the KV cache (default: the pack llm.maxLength)', parseIntStrict('--max-length'))
    .option('--json', 'print the estimate as JSON')
    .action(async (dir: string | undefined, o: { tap?: string; maxLength?: number; json?: boolean }) => {
      try {
        const e = await estimatePack(defaultPackDir(dir), { ...(o.tap ? { tap: o.tap } : {}), ...(o.maxLength ? { maxLength: o.maxLength } : {}) });
        if (o.json) printJson(e);
        else printEstimate(e);
      } catch (err) {
        fail(err);
      }
    });
}
