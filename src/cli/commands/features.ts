/**
 * `twinlens features`: write diffusion taps (and optionally CLIP patches and
 * cross-attention maps) of one image as .npy files, each with a JSON sidecar
 * recording everything needed to regenerate it (image hash, pack, tap,
 * tensor, t, s, prompt, seed, ensemble).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Command } from 'commander';
import type { FeaturesResult } from '../../shared/contract.js';
import { safeName, writeAtomic } from '../../engine/export/files.js';
import { encodeNpy } from '../../engine/export/npy.js';
import { EngineClient } from '../../host/engine-client.js';
import { diffusionFrom, diffusionOptions, providerOption } from '../options.js';
import { fail, printJson, StderrProgress } from '../output.js';
import { defaultPackDir } from '../pack-path.js';

interface FeaturesOptions {
  pack?: string;
  image?: string;
  question?: string;
  tap: string[];
  t?: number;
  guidance?: number;
  seed?: number;
  ensemble?: number;
  out?: string;
  crossAttention?: boolean;
  clip?: boolean;
  branches?: boolean;
  listTaps?: boolean;
  provider: string;
  json?: boolean;
}

export function registerFeatures(program: Command): void {
  const cmd = program
    .command('features')
    .description('Extract diffusion features at the given taps and write them as .npy with JSON sidecars')
    .option('--image <file>', 'image file')
    .option('--pack <dir>', 'model pack folder (default: built-in mini-world)')
    .option('--question <text>', 'the SD prompt (default: empty = unconditional)', '')
    .option('--tap <alias...>', 'tap aliases or tensor names (default: the pack default)', []);
  diffusionOptions(cmd, ['t', 'guidance', 'seed', 'ensemble'])
    .option('--out <dir>', 'output folder')
    .option('--cross-attention', 'also write per-token cross-attention maps')
    .option('--clip', 'also write CLIP patch features')
    .option('--branches', 'also write conditional and unconditional maps before guidance')
    .option('--list-taps', 'list the taps this pack offers and exit');
  providerOption(cmd)
    .option('--json', 'print a JSON summary')
    .action(async (o: FeaturesOptions) => {
      const progress = new StderrProgress(!o.json);
      let client: EngineClient | undefined;
      try {
        client = await EngineClient.start({ packDir: defaultPackDir(o.pack), provider: o.provider });
        if (o.listTaps) {
          const info = await client.call('packInfo', {});
          if (o.json) printJson(info.taps);
          else
            for (const t of info.taps)
              process.stdout.write(`${t.study ? '*' : ' '} ${t.alias.padEnd(22)} ${t.available ? t.tensorName : `unavailable: ${t.reason}`}\n`);
          await client.dispose();
          return;
        }
        if (!o.image) throw Object.assign(new Error('--image is required'), { code: 'INVALID_ARGUMENT' });
        if (!o.out) throw Object.assign(new Error('--out is required'), { code: 'INVALID_ARGUMENT' });
        const taps = o.tap
          .flatMap((t) => t.split(','))
          .map((t) => t.trim())
          .filter(Boolean);
        const res: FeaturesResult = await client.call(
          'features',
          {
            image: { path: path.resolve(o.image) },
            prompt: o.question ?? '',
            taps,
            diffusion: diffusionFrom({ t: o.t, guidance: o.guidance, seed: o.seed, ensemble: o.ensemble }),
            crossAttention: !!o.crossAttention,
            clip: !!o.clip,
            keepBranches: !!o.branches,
          },
          { onEvent: (e) => e.type === 'progress' && progress.update(`features: ${e.stage} ${e.done}/${e.total}`) },
        );
        progress.done();
        const info = await client.call('packInfo', {});
        await client.dispose();
        fs.mkdirSync(o.out, { recursive: true });
        const written: string[] = [];
        const common = { pack: info.name, packDir: info.dir, image: path.resolve(o.image), imageHash: res.imageHash, ...res.settings };
        const save = (base: string, data: Float32Array, shape: number[], meta: Record<string, unknown>) => {
          const file = path.join(o.out!, `${base}.npy`);
          writeAtomic(file, encodeNpy(data, shape));
          writeAtomic(
            path.join(o.out!, `${base}.json`),
            `${JSON.stringify({ ...common, ...meta, shape, layout: meta.layout ?? '[H*W, C]', dtype: 'float32' }, null, 2)}\n`,
          );
          written.push(file);
        };
        for (const t of res.taps) {
          const meta = { tap: t.alias, tensorName: t.tensorName, height: t.height, width: t.width, channels: t.channels };
          save(`${safeName(t.alias)}_t${res.settings.t}_s${res.settings.guidance}`, t.data, [t.height * t.width, t.channels], { ...meta, branch: 'guided' });
          if (t.cond) save(`${safeName(t.alias)}_t${res.settings.t}_cond`, t.cond, [t.height * t.width, t.channels], { ...meta, branch: 'cond' });
          if (t.uncond) save(`${safeName(t.alias)}_t${res.settings.t}_uncond`, t.uncond, [t.height * t.width, t.channels], { ...meta, branch: 'uncond' });
        }
        if (res.crossAttention) {
          const x = res.crossAttention;
          save(`cross-attention_t${res.settings.t}`, x.maps, [x.tokens.length, x.height, x.width], {
            tokens: x.tokens,
            layers: x.layers,
            layout: '[tokens, H, W]',
          });
        }
        if (res.clip)
          save('clip', res.clip.data, [res.clip.height * res.clip.width, res.clip.channels], {
            tensorName: res.clip.tensorName,
            height: res.clip.height,
            width: res.clip.width,
          });
        if (o.json) printJson({ written, settings: res.settings, imageHash: res.imageHash, ms: Math.round(res.ms) });
        else for (const f of written) process.stdout.write(`${f}\n`);
      } catch (e) {
        await client?.dispose();
        fail(e);
      }
    });
}
