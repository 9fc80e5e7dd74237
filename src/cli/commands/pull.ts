/**
 * `twinlens pull REPO --files a,b [--endpoint URL] [--revision R] [--cache DIR]`:
 * the model manager. The only command that uses the network, and only when
 * run: files go to the shared cache (resumable partials, sha256-verified,
 * moved into place atomically), with progress, speed and ETA on stderr.
 * Ctrl-C cancels; running the same command again resumes.
 */
import * as fs from 'node:fs';
import type { Command } from 'commander';
import { defaultCacheDir } from '../../engine/hub/cache.js';
import { formatProgress, formatSize } from '../../engine/hub/progress.js';
import { pull } from '../../engine/hub/pull.js';
import { parseChecksums } from '../../engine/hub/remote-files.js';
import { TwinLensError } from '../../shared/errors.js';
import { StderrProgress, fail, printJson } from '../output.js';

interface PullCliOptions {
  files: string;
  endpoint?: string;
  revision: string;
  cache?: string;
  checksums?: string;
  xet: boolean;
  progress: boolean;
  json?: boolean;
}

export function registerPull(program: Command): void {
  program
    .command('pull')
    .description('Download model files from the Hugging Face Hub (or a mirror) into the shared cache: resumable, sha256-verified, atomic')
    .argument('<repo>', 'repository id, e.g. onnx-community/stable-diffusion-v1-5-ONNX')
    .requiredOption('--files <list>', 'comma-separated paths or patterns (unet/*, tokenizer/**)')
    .option('--endpoint <url>', 'Hub or mirror URL (default: $HF_ENDPOINT, else https://huggingface.co)')
    .option('--revision <rev>', 'branch, tag or commit', 'main')
    .option('--cache <dir>', `cache folder shared by all packs (default: $TWINLENS_CACHE or ${defaultCacheDir()})`)
    .option('--checksums <file>', 'sha256sum-style list ("hash  path") checked in addition to the Hub hashes')
    .option('--no-xet', "don't use the Xet protocol even when the Hub offers it")
    .option('--no-progress', 'no progress lines on stderr')
    .option('--json', 'print the result as JSON')
    .action(async (repo: string, o: PullCliOptions) => {
      const ac = new AbortController();
      const onSignal = () => {
        process.stderr.write('\ntwinlens: cancelling (run the same command again to resume)…\n');
        ac.abort();
      };
      process.once('SIGINT', onSignal);
      process.once('SIGTERM', onSignal);
      const progress = new StderrProgress(o.progress);
      try {
        const files = o.files
          .split(',')
          .map((s) => s.trim())
          .filter(Boolean);
        if (!files.length) throw new TwinLensError('INVALID_ARGUMENT', '--files is empty');
        let checksums: Map<string, string> | undefined;
        if (o.checksums) {
          try {
            checksums = parseChecksums(fs.readFileSync(o.checksums, 'utf8'));
          } catch (e) {
            if (e instanceof TwinLensError) throw e;
            throw new TwinLensError('INVALID_ARGUMENT', `Cannot read ${o.checksums}: ${(e as Error).message}`);
          }
        }
        const cacheDir = o.cache ?? defaultCacheDir();
        const res = await pull({
          repo,
          files,
          revision: o.revision,
          ...(o.endpoint ? { endpoint: o.endpoint } : {}),
          cacheDir,
          ...(process.env.HF_TOKEN ? { accessToken: process.env.HF_TOKEN } : {}),
          ...(checksums ? { checksums } : {}),
          signal: ac.signal,
          xet: o.xet,
          onProgress: (e) => progress.update(formatProgress(e)),
        });
        progress.done();
        if (o.json) printJson(res);
        else {
          for (const f of res.files) {
            const how = f.cached ? 'cached' : f.resumedFrom > 0 ? `resumed at ${formatSize(f.resumedFrom)}` : 'downloaded';
            process.stdout.write(
              `${f.verified ? '✓' : '!'} ${f.path}  ${formatSize(f.bytes)}  ${how}${f.verified ? '' : '  (no hash from the Hub: unverified)'}\n`,
            );
          }
          process.stdout.write(`${formatSize(res.downloadedBytes)} downloaded from ${res.endpoint}; files in ${res.snapshot}\n`);
          process.stdout.write(`Next: twinlens packs import --sd ${res.snapshot} … --out PACK\n`);
        }
      } catch (e) {
        progress.done();
        fail(e);
      } finally {
        process.off('SIGINT', onSignal);
        process.off('SIGTERM', onSignal);
      }
    });
}
