/**
 * `twinlens serve`: web mode — the workbench in a browser, the same contract
 * over HTTP + WebSocket, on 127.0.0.1 with a per-run token by default.
 */
import * as path from 'node:path';
import type { Command } from 'commander';
import { fail, parseIntStrict } from '../output.js';
import { defaultPackDir } from '../pack-path.js';

export function registerServe(program: Command): void {
  program
    .command('serve')
    .description('Serve the workbench to a browser (web mode)')
    .option('--port <n>', 'port (0 = any free port)', parseIntStrict('--port'), 7860)
    .option('--host <host>', 'interface to bind; anything but loopback exposes the engine to your network', '127.0.0.1')
    .option('--pack <dir>', 'model pack folder (default: built-in mini-world)')
    .option('--provider <name>', 'execution provider', 'auto')
    .option(
      '--allow-host <name>',
      'also accept this Host header (a DNS name for a remote box); repeatable',
      (v: string, acc: string[]) => [...acc, v],
      [] as string[],
    )
    .option('--open', 'open the URL in the default browser')
    .option(
      '--root <dir>',
      'a folder the browser may read and write (images, suites, packs); repeatable (default: the pack folders and the current directory)',
      (v: string, acc: string[]) => [...acc, v],
      [] as string[],
    )
    .action(async (o: { port: number; host: string; pack?: string; provider: string; allowHost: string[]; open?: boolean; root: string[] }) => {
      try {
        const { startServer } = await import('../../server/index.js');
        const packDir = defaultPackDir(o.pack);
        const server = await startServer({
          port: o.port,
          host: o.host,
          packDir,
          provider: o.provider,
          allowedHosts: o.allowHost,
          open: !!o.open,
          roots: o.root.map((r) => path.resolve(r)),
        });
        process.stdout.write(`TwinLens web mode on pack ${packDir}\nfiles: only under ${server.roots.join(', ')} (--root adds a folder)\n${server.url}\n`);
        const stop = () => void server.close().then(() => process.exit(0));
        process.once('SIGINT', stop);
        process.once('SIGTERM', stop);
      } catch (e) {
        fail(e);
      }
    });
}
