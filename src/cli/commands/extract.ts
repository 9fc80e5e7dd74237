/**
 * `twinlens extract --pack P --data FILE... --out DIR --shard i/n [--stage 1|2]`:
 * the visual features of projector-training data, computed by this engine,
 * written as the safetensors shards + manifest the Python trainer reads
 * (training/twinlens_train/llava/shards.py; writer in
 * src/engine/export/feature-shards.ts).
 *
 * Per image row (rows i::n of the data's image rows): CLIP tokens as the
 * answer modes read them, the unconditional tap features (empty prompt) and,
 * in stage 2, the question-conditioned guided features f_u + s·(f_c − f_u)
 * with the row's first question as the SD prompt — one UNet pass of batch 2
 * gives both branches. t, s, tap and seed are the pack's defaults unless
 * given. Stage 1 never prompts the UNet (DESIGN §1.5: no prompt in
 * pre-training). `--prompt-dropout p` leaves a seeded fraction p of the rows
 * without conditional features (decided per row id, so any sharding gives
 * the same rows); the trainer's own --p-drop redraws per epoch instead.
 *
 * Resumable: a shard whose file and partial manifest are complete (sha256
 * checked) is skipped; an interrupted shard continues after its last
 * journalled row when rerun with the same settings (else it starts over);
 * the job that completes the last part writes manifest.json. n jobs on n
 * machines never write the same file.
 */
import { createHash } from 'node:crypto';
import * as path from 'node:path';
import { type Command, Option } from 'commander';
import type { FeaturesResult } from '../../shared/contract.js';
import { type ErrorCode, TwinLensError, toTwinLensError } from '../../shared/errors.js';
import { type FeatureSettings, FeatureShardWriter, finalizeManifest, finishedShard, parseShardSpec } from '../../engine/export/feature-shards.js';
import { readTrainingRows, type TrainingRow } from '../../engine/export/training-rows.js';
import { EngineClient } from '../../host/engine-client.js';
import { fail, parseIntStrict, parseNumber, printJson, StderrProgress } from '../output.js';
import { defaultPackDir } from '../pack-path.js';

interface ExtractOptions {
  pack?: string;
  data: string[];
  imageFolder?: string;
  out: string;
  shard: string;
  stage: number;
  promptDropout: number;
  seed?: number;
  t?: number;
  guidance?: number;
  tap?: string;
  limit?: number;
  dtype: string;
  stopAfterRows?: number;
  provider: string;
  json?: boolean;
}

/** Seeded per-row draw in [0, 1): the same for a row whatever the sharding. */
export function rowDraw(seed: number, id: string): number {
  return createHash('sha256').update(`${seed}:${id}`).digest().readUInt32LE(0) / 2 ** 32;
}

/** Errors that skip one row instead of stopping the extraction. */
const ROW_ERRORS = new Set<ErrorCode>(['IMAGE_DECODE_FAILED', 'IMAGE_TOO_LARGE']);

/** The SD prompt is truncated to 77 tokens by the engine; the contract caps the text. */
const MAX_PROMPT_CHARS = 2000;

export function registerExtract(program: Command): void {
  program
    .command('extract')
    .description('Extract CLIP and diffusion features of training data into safetensors shards + manifest for projector training')
    .requiredOption('--data <files...>', 'LLaVA JSON list(s) and/or suite JSONL file(s)')
    .requiredOption('--out <dir>', 'feature folder (shards, partial manifests, manifest.json)')
    .option('--pack <dir>', 'model pack folder (default: built-in mini-world)')
    .option('--image-folder <dir>', 'images of LLaVA JSON rows (default: the JSON file’s folder)')
    .option('--shard <i/n>', 'this job’s share: rows i, i+n, i+2n, …', '0/1')
    .option('--stage <n>', '1 = no prompt (pre-training), 2 = also question-conditioned guided features', parseIntStrict('--stage'), 2)
    .option('--prompt-dropout <p>', 'stage 2: fraction of rows stored without conditional features (seeded per row)', parseNumber('--prompt-dropout'), 0)
    .option('--seed <n>', 'noise seed (default: the pack’s); also seeds --prompt-dropout', parseIntStrict('--seed'))
    .option('--t <n>', 'timestep (default: the pack’s)', parseIntStrict('--t'))
    .option('--guidance <s>', 'guidance scale (default: the pack’s)', parseNumber('--guidance'))
    .option('--tap <alias>', 'UNet tap (default: the pack’s)')
    .option('--limit <n>', 'only the first n image rows of the data (smoke runs)', parseIntStrict('--limit'))
    .option('--dtype <t>', 'stored dtype: float32 or float16 (half the disk; the trainer reads float32)', 'float32')
    .option('--provider <name>', 'execution provider', 'auto')
    .option('--json', 'print a JSON summary')
    .addOption(
      new Option('--stop-after-rows <n>', 'tests: exit abruptly after n new rows, as if killed').argParser(parseIntStrict('--stop-after-rows')).hideHelp(),
    )
    .action(async (o: ExtractOptions) => {
      const progress = new StderrProgress(!o.json);
      let client: EngineClient | undefined;
      let writer: FeatureShardWriter | undefined;
      try {
        if (o.stage !== 1 && o.stage !== 2) throw new TwinLensError('INVALID_ARGUMENT', `--stage must be 1 or 2, got ${o.stage}`);
        if (o.dtype !== 'float32' && o.dtype !== 'float16') throw new TwinLensError('INVALID_ARGUMENT', `--dtype must be float32 or float16, got ${o.dtype}`);
        if (!(o.promptDropout >= 0 && o.promptDropout <= 1))
          throw new TwinLensError('INVALID_ARGUMENT', `--prompt-dropout must lie in [0, 1], got ${o.promptDropout}`);
        const shard = parseShardSpec(o.shard);
        const out = path.resolve(o.out);
        const report = readTrainingRows(
          o.data.map((f) => path.resolve(f)),
          o.imageFolder && path.resolve(o.imageFolder),
        );
        const all = o.limit !== undefined ? report.rows.slice(0, o.limit) : report.rows;
        const mine = all.filter((_, k) => k % shard[1] === shard[0]);
        const requested = { stage: o.stage, prompt_dropout: o.stage === 2 ? o.promptDropout : 0, dtype: o.dtype };
        const done = finishedShard(out, shard);
        if (done) {
          if (done.stage !== requested.stage || done.prompt_dropout !== requested.prompt_dropout || (done.dtype ?? 'float32') !== requested.dtype) {
            throw new TwinLensError(
              'INVALID_ARGUMENT',
              `${out} already holds shard ${o.shard} made with stage ${String(done.stage)}, prompt dropout ${String(done.prompt_dropout)}, dtype ${String(done.dtype ?? 'float32')}`,
              'Use another --out for other settings',
            );
          }
          const manifest = finalizeManifest(out, shard[1]);
          const summary = { out, shard: o.shard, skippedShard: true, rows: done.shards[0].rows.length, manifest: manifest ?? null };
          if (o.json) printJson(summary);
          else process.stdout.write(`shard ${o.shard} is already complete in ${out}${manifest ? `; ${manifest}` : ''}\n`);
          return;
        }
        client = await EngineClient.start({ packDir: defaultPackDir(o.pack), provider: o.provider });
        const info = await client.call('packInfo', {});
        const c = client;
        const diffusion = {
          ...(o.t !== undefined ? { t: o.t } : {}),
          ...(o.guidance !== undefined ? { guidance: o.guidance } : {}),
          ...(o.seed !== undefined ? { seed: o.seed } : {}),
        };
        const run = (row: TrainingRow, prompt: string): Promise<FeaturesResult> =>
          c.call('features', {
            image: { path: row.image },
            prompt,
            taps: o.tap ? [o.tap] : [],
            diffusion,
            clip: true,
            keepBranches: true,
            crossAttention: false,
          });
        let settings: FeatureSettings | undefined;
        const settingsOf = (r: FeaturesResult): FeatureSettings => {
          const tap = r.taps[0];
          return {
            tap: r.settings.tap,
            t: r.settings.t,
            s: o.stage === 2 ? r.settings.guidance : 0,
            seed: r.settings.seed,
            prompt_policy: o.stage === 2 ? 'question' : 'none',
            features: { clip: [r.clip!.height * r.clip!.width, r.clip!.channels], diffusion: [tap.height * tap.width, tap.channels] },
            ...requested,
            ensemble: r.settings.ensemble,
            pack: info.name,
          };
        };
        // What a resumed job must share with the interrupted one, or start the shard over.
        const key = JSON.stringify({
          requested,
          data: o.data.map((f) => path.resolve(f)),
          imageFolder: o.imageFolder ?? null,
          limit: o.limit ?? null,
          pack: info.dir,
          tap: o.tap ?? null,
          diffusion,
        });
        writer = new FeatureShardWriter(out, shard, o.dtype as 'float32' | 'float16', key);
        if (writer.resumed) progress.update(`extract ${o.shard}: resuming after ${writer.resumed} rows`);
        const dropSeed = o.seed ?? 0;
        let k = 0;
        let fresh = 0;
        for (const row of mine) {
          k++;
          if (writer.has(row.id)) continue;
          if (o.stopAfterRows !== undefined && fresh >= o.stopAfterRows) {
            writer.close();
            await client.dispose();
            process.exit(3);
          }
          fresh++;
          progress.update(`extract ${o.shard}: ${k}/${mine.length} ${row.id}`);
          const prompted = o.stage === 2 && rowDraw(dropSeed, row.id) >= o.promptDropout;
          let r: FeaturesResult;
          try {
            r = await run(row, prompted ? row.question.slice(0, MAX_PROMPT_CHARS) : '');
          } catch (e) {
            // A bad image costs its row; anything else (pack, engine, memory) stops the job, whose
            // journal lets a rerun continue from here once the cause is fixed.
            const err = toTwinLensError(e);
            if (!ROW_ERRORS.has(err.code)) throw err;
            writer.skip(row.id, `${err.code}: ${err.message}`);
            continue;
          }
          const tap = r.taps[0];
          if (!r.clip || !tap)
            throw new TwinLensError(
              'MODE_UNAVAILABLE',
              `pack ${info.name} gave no ${r.clip ? 'diffusion tap' : 'CLIP'} features`,
              'Extraction needs a pack with CLIP and a diffusion UNet',
            );
          settings ??= settingsOf(r);
          const shape = (f: number[]): [number, number] => [f[0], f[1]];
          const cs = shape(settings.features.clip);
          const ds = shape(settings.features.diffusion);
          if (r.clip.height * r.clip.width !== cs[0] || tap.height * tap.width !== ds[0]) {
            writer.skip(row.id, `token count differs from the first row (${r.clip.height * r.clip.width} CLIP / ${tap.height * tap.width} diffusion)`);
            continue;
          }
          writer.addRow(row.id, {
            clip: { shape: cs, data: r.clip.data },
            diffusion_uncond: { shape: ds, data: tap.uncond ?? tap.data },
            ...(prompted ? { diffusion_cond: { shape: ds, data: tap.data } } : {}),
          });
        }
        progress.done();
        if (!settings) {
          // An empty share (more shards than rows, or every row failed) still records the settings,
          // from the first row of the data, so the parts can be merged.
          if (!all.length) throw new TwinLensError('INVALID_ARGUMENT', `no image rows in ${o.data.join(', ')}`);
          settings = settingsOf(await run(all[0], o.stage === 2 ? all[0].question.slice(0, MAX_PROMPT_CHARS) : ''));
        }
        const resumedRows = writer.resumed;
        const part = writer.finish(settings);
        writer = undefined;
        await client.dispose();
        client = undefined;
        const manifest = finalizeManifest(out, shard[1]);
        const summary = {
          out,
          shard: o.shard,
          rows: part.shards[0].rows.length,
          resumed: resumedRows,
          failed: part.shards[0].skipped ?? [],
          dataSkipped: report.skipped,
          textOnly: report.textOnly,
          settings,
          manifest: manifest ?? null,
        };
        if (o.json) printJson(summary);
        else {
          process.stdout.write(`shard ${o.shard}: ${summary.rows} rows → ${out}${summary.failed.length ? ` (${summary.failed.length} failed)` : ''}\n`);
          if (report.skipped.length)
            process.stdout.write(
              `data: ${report.skipped.length} rows skipped (${[...new Set(report.skipped.map((s) => s.reason))].join(', ')}), ${report.textOnly} text-only\n`,
            );
          process.stdout.write(manifest ? `all ${shard[1]} shards complete: ${manifest}\n` : `waiting for the other shards before manifest.json\n`);
        }
      } catch (e) {
        writer?.close();
        await client?.dispose();
        fail(e);
      }
    });
}
