/**
 * The `twinlens` command line: headless access to everything the workbench
 * does. Each subcommand lives in commands/; inference always runs in the
 * engine child process.
 */
import { Command, CommanderError } from 'commander';
import { registerAsk } from './commands/ask.js';
import { registerBench } from './commands/bench.js';
import { registerEval } from './commands/eval.js';
import { registerExport } from './commands/export.js';
import { registerExtract } from './commands/extract.js';
import { registerFeatures } from './commands/features.js';
import { registerImport } from './commands/import.js';
import { registerLeakage } from './commands/leakage.js';
import { registerPacks } from './commands/packs.js';
import { registerPull } from './commands/pull.js';
import { registerServe } from './commands/serve.js';

const program = new Command();
program
  .name('twinlens')
  .description('TwinLens: Stable Diffusion features beside CLIP for a LLaVA-style LLM — ask, look inside, measure')
  .version('0.1.0')
  .showHelpAfterError('(run with --help for usage)')
  .exitOverride();

registerAsk(program);
registerFeatures(program);
registerExport(program);
registerExtract(program);
registerPacks(program);
registerImport(program);
registerPull(program);
registerBench(program);
registerEval(program);
registerLeakage(program);
registerServe(program);

try {
  await program.parseAsync(process.argv);
} catch (e) {
  if (e instanceof CommanderError) {
    if (e.code === 'commander.helpDisplayed' || e.code === 'commander.version' || e.code === 'commander.help') process.exit(0);
    process.exit(2);
  }
  process.stderr.write(`twinlens: error: ${(e as Error).message}\n`);
  process.exit(2);
}
