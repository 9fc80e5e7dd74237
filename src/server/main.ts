/**
 * `npm run serve`: start web mode from the command line until (and besides)
 * `twinlens serve` in src/cli. Flags: --port N (default 7860), --host H
 * (default 127.0.0.1), --pack DIR, --provider NAME, --allow-host NAME
 * (repeatable), --open. Prints the URL with its token and serves until Ctrl-C.
 */
import { argValue, resolveDefaultPack } from './default-pack.js';
import { startServer } from './index.js';

const argv = process.argv.slice(2);
if (argv.includes('--help') || argv.includes('-h')) {
  process.stdout.write(
    'usage: serve [--port N] [--host H] [--pack DIR] [--provider cpu|auto|...] [--allow-host NAME]... [--open]\n' +
      'Serves the TwinLens workbench to a browser; the printed URL carries the per-run token.\n',
  );
  process.exit(0);
}

const pack = resolveDefaultPack({ explicit: argValue(argv, '--pack') });
const portArg = argValue(argv, '--port');
const allowedHosts = argv.flatMap((a, i) => (a === '--allow-host' && argv[i + 1] ? [argv[i + 1]] : []));

const server = await startServer({
  port: portArg !== undefined ? Number(portArg) : undefined,
  host: argValue(argv, '--host'),
  packDir: pack.source === 'none' ? undefined : pack.dir,
  provider: argValue(argv, '--provider'),
  allowedHosts,
  open: argv.includes('--open'),
});

process.stdout.write(`TwinLens web mode — pack: ${pack.dir} (${pack.source})\n`);
process.stdout.write(`Open ${server.url}\n`);
server.engine.onState((s) => {
  if (s.state === 'crashed') process.stderr.write(`engine: ${s.message ?? 'crashed'}; restarting\n`);
});

let stopping = false;
const stop = () => {
  if (stopping) process.exit(1);
  stopping = true;
  void server.close().then(() => process.exit(0));
};
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
