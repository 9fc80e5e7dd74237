/**
 * `twinlens ask`: one image, one question, the answer of each mode — the
 * headless twin of the Ask view. Tokens stream to stdout as they come unless
 * --json is given, in which case one JSON document is printed at the end.
 */
import * as path from 'node:path';
import type { Command } from 'commander';
import type { AskResult } from '../../shared/contract.js';
import { EngineClient } from '../../host/engine-client.js';
import { type SharedCliOptions, diffusionFrom, diffusionOptions, maxTokensOption, providerOption } from '../options.js';
import { fail, parseNumber, printJson, StderrProgress } from '../output.js';
import { defaultPackDir } from '../pack-path.js';

interface AskOptions extends SharedCliOptions {
  pack?: string;
  image: string;
  question: string;
  mode: string;
  prompt?: string;
  temperature?: number;
  topP?: number;
}

export function registerAsk(program: Command): void {
  const cmd = program
    .command('ask')
    .description('Answer a question about an image with each answer mode (clip, diffusion, fused)')
    .requiredOption('--image <file>', 'image file (PNG, JPEG, WebP, …)')
    .requiredOption('--question <text>', 'the question; also the diffusion prompt by default')
    .option('--pack <dir>', 'model pack folder (default: built-in mini-world)')
    .option('--mode <ids>', 'clip|diffusion|fused|all, or a comma-separated list', 'all');
  diffusionOptions(cmd, ['t', 'guidance', 'tap']).option('--prompt <text>', 'custom SD prompt instead of the question ("" = unconditional)');
  diffusionOptions(cmd, ['seed', 'ensemble']);
  maxTokensOption(cmd)
    .option('--temperature <x>', '0 = greedy (default)', parseNumber('--temperature'))
    .option('--top-p <p>', 'nucleus sampling threshold', parseNumber('--top-p'));
  providerOption(cmd)
    .option('--json', 'print one JSON document')
    .action(async (o: AskOptions) => {
      const progress = new StderrProgress(!o.json);
      let client: EngineClient | undefined;
      const ac = new AbortController();
      process.once('SIGINT', () => ac.abort());
      try {
        client = await EngineClient.start({ packDir: defaultPackDir(o.pack), provider: o.provider });
        let current = '';
        const result: AskResult = await client.call(
          'ask',
          {
            image: { path: path.resolve(o.image) },
            question: o.question,
            modes: o.mode === 'all' ? 'all' : o.mode.split(',').map((s) => s.trim()),
            diffusion: {
              ...diffusionFrom(o),
              ...(o.prompt !== undefined ? { promptSource: o.prompt === '' ? 'empty' : 'custom', customPrompt: o.prompt } : {}),
            },
            generation: { maxTokens: o.maxTokens, temperature: o.temperature, topP: o.topP },
          },
          {
            signal: ac.signal,
            onEvent: (e) => {
              if (o.json) return;
              if (e.type === 'progress') progress.update(`${current || 'features'}: ${e.stage} ${e.done}/${e.total}`);
              else if (e.type === 'mode-start') {
                progress.done();
                current = e.mode;
                process.stdout.write(`${e.mode}: `);
              } else if (e.type === 'token') process.stdout.write(e.text);
              else if (e.type === 'mode-done') {
                const a = e.answer;
                process.stdout.write(a.error ? `[error: ${a.error.message}]\n` : `   (${a.tokens} tokens, ${Math.round(a.ms)} ms, ${a.stop})\n`);
              }
            },
          },
        );
        if (o.json) {
          printJson({
            answers: Object.fromEntries(
              Object.entries(result.answers).map(([k, a]) => [
                k,
                { text: a.text, ms: Math.round(a.ms), tokens: a.tokens, stop: a.stop, ...(a.error ? { error: a.error } : {}) },
              ]),
            ),
            question: result.question,
            imageHash: result.imageHash,
            settings: result.settings,
            providers: result.providers,
          });
        }
        const failed = Object.values(result.answers).filter((a) => a.error && a.stop !== 'cancelled');
        await client.dispose();
        if (failed.length === Object.keys(result.answers).length) fail(failed[0].error);
      } catch (e) {
        await client?.dispose();
        fail(e);
      }
    });
}
