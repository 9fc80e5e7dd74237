/**
 * `twinlens packs validate DIR`: the readable report of validatePack, exit 0
 * only when the pack is usable. `twinlens packs info DIR`: modes and taps.
 */
import type { Command } from 'commander';
import { validatePack } from '../../engine/pack/validate.js';
import type { ProviderChoice } from '../../engine/onnx/providers.js';
import { fail, printJson } from '../output.js';
import { defaultPackDir } from '../pack-path.js';

const MARK = { ok: '✓', warn: '!', error: '✗' } as const;

export function registerPacks(program: Command): void {
  const packs = program.command('packs').description('Inspect and validate model packs');
  packs
    .command('validate')
    .description('Check a pack: manifest, paths, hashes, ONNX sessions and their inputs/outputs, tokenizers, taps')
    .argument('[dir]', 'pack folder (default: built-in mini-world)')
    .option('--provider <name>', 'execution provider used to open sessions', 'cpu')
    .option('--json', 'print the report as JSON')
    .action(async (dir: string | undefined, o: { provider: string; json?: boolean }) => {
      try {
        const report = await validatePack(defaultPackDir(dir), { provider: o.provider as ProviderChoice });
        if (o.json) printJson(report);
        else {
          process.stdout.write(`Pack ${report.name ?? '?'} at ${report.dir}\n`);
          for (const c of report.checks) process.stdout.write(`  ${MARK[c.status]} ${c.check}: ${c.message}\n`);
          process.stdout.write(report.usable ? 'Usable.\n' : 'NOT usable: fix the ✗ lines above.\n');
        }
        if (!report.usable) {
          const first = report.checks.find((c) => c.status === 'error');
          if (!o.json) process.stderr.write(`twinlens: error [${first?.code ?? 'PACK_MANIFEST_INVALID'}]: ${first?.check}: ${first?.message}\n`);
          process.exit(1);
        }
      } catch (e) {
        fail(e);
      }
    });
}
