/**
 * Feature shards for projector training (the format of
 * training/twinlens_train/llava/shards.py): the streamed shard is a valid
 * safetensors file keyed <row>/<kind>, the partial manifest records its
 * sha256, merging waits for every part and refuses parts made differently,
 * a finished shard is recognised (and a corrupted one is not); the training
 * rows reader gives the Python readers' ids and first questions.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  type FeatureSettings,
  FeatureShardWriter,
  finalizeManifest,
  finishedShard,
  parseShardSpec,
  sha256File,
} from '../../../src/engine/export/feature-shards.js';
import { decodeSafetensors } from '../../../src/engine/export/safetensors.js';
import { readTrainingRows } from '../../../src/engine/export/training-rows.js';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'twinlens-shards-'));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

const settings = (extra: Partial<FeatureSettings> = {}): FeatureSettings => ({
  tap: 'U-L1-R1-B0-Cross-Q',
  t: 50,
  s: 4,
  seed: 0,
  prompt_policy: 'question',
  features: { clip: [2, 3], diffusion: [1, 2] },
  ...extra,
});
const vals = (n: number, base: number) => Float32Array.from({ length: n }, (_, i) => base + i / 8);

describe('feature shards', () => {
  it('writes shards and merges the manifest once every part exists', () => {
    const out = path.join(dir, 'a');
    const w0 = new FeatureShardWriter(out, [0, 2]);
    w0.addRow('r0', {
      clip: { shape: [2, 3], data: vals(6, 0) },
      diffusion_uncond: { shape: [1, 2], data: vals(2, 10) },
      diffusion_cond: { shape: [1, 2], data: vals(2, 20) },
    });
    w0.addRow('r2', { clip: { shape: [2, 3], data: vals(6, 1) }, diffusion_uncond: { shape: [1, 2], data: vals(2, 11) } });
    w0.skip('r4', 'image_undecodable');
    const p0 = w0.finish(settings());
    expect(p0.shards[0]).toMatchObject({ file: 'shard-00000-of-00002.safetensors', rows: ['r0', 'r2'], skipped: [{ id: 'r4', reason: 'image_undecodable' }] });
    const file = path.join(out, p0.shards[0].file);
    expect(p0.shards[0].sha256).toBe(sha256File(file));
    const dec = decodeSafetensors(fs.readFileSync(file));
    expect([...dec.tensors.keys()].sort()).toEqual(['r0/clip', 'r0/diffusion_cond', 'r0/diffusion_uncond', 'r2/clip', 'r2/diffusion_uncond']);
    expect(dec.tensors.get('r2/diffusion_uncond')).toEqual({ shape: [1, 2], data: vals(2, 11) });
    expect(fs.readdirSync(out).some((f) => f.includes('.tmp'))).toBe(false);
    expect(finalizeManifest(out, 2)).toBeUndefined();
    expect(finishedShard(out, [0, 2])?.shards[0].rows).toEqual(['r0', 'r2']);
    expect(finishedShard(out, [1, 2])).toBeUndefined();

    const w1 = new FeatureShardWriter(out, [1, 2]);
    w1.addRow('r1', { clip: { shape: [2, 3], data: vals(6, 2) }, diffusion_uncond: { shape: [1, 2], data: vals(2, 12) } });
    w1.finish(settings());
    const m = JSON.parse(fs.readFileSync(finalizeManifest(out, 2)!, 'utf8'));
    expect(m).toMatchObject({ version: 1, tap: 'U-L1-R1-B0-Cross-Q', features: { clip: [2, 3], diffusion: [1, 2] } });
    expect(m.of).toBeUndefined();
    expect(m.shards.map((s: { rows: string[] }) => s.rows)).toEqual([['r0', 'r2'], ['r1']]);

    fs.appendFileSync(file, 'x');
    expect(finishedShard(out, [0, 2])).toBeUndefined();
  });

  it('refuses to merge parts made with other settings, and bad rows', () => {
    const out = path.join(dir, 'b');
    new FeatureShardWriter(out, [0, 2]).finish(settings());
    new FeatureShardWriter(out, [1, 2]).finish(settings({ t: 100 }));
    expect(() => finalizeManifest(out, 2)).toThrow(/other settings/);
    const w = new FeatureShardWriter(out, [0, 1]);
    expect(() => w.addRow('a/b', { clip: { shape: [2, 3], data: vals(6, 0) }, diffusion_uncond: { shape: [1, 2], data: vals(2, 0) } })).toThrow(
      /contains "\/"/,
    );
    expect(() => w.addRow('c', { clip: { shape: [2, 3], data: vals(6, 0) } })).toThrow(/required/);
    w.close();
    expect(parseShardSpec('1/3')).toEqual([1, 3]);
    expect(() => parseShardSpec('3/3')).toThrow(/0 <= i < n/);
  });

  it('resumes an interrupted shard after its last journalled row, and starts over for other settings', () => {
    const out = path.join(dir, 'c');
    const row = (k: number) => ({
      clip: { shape: [2, 3] as [number, number], data: vals(6, k) },
      diffusion_uncond: { shape: [1, 2] as [number, number], data: vals(2, 10 + k) },
    });
    const whole = new FeatureShardWriter(path.join(dir, 'c-whole'), [0, 1], 'float32', 'k1');
    for (const k of [0, 1, 2]) whole.addRow(`r${k}`, row(k));
    whole.skip('r3', 'bad image');
    whole.finish(settings());

    const a = new FeatureShardWriter(out, [0, 1], 'float32', 'k1');
    a.addRow('r0', row(0));
    a.addRow('r1', row(1));
    a.close(); // killed here ...
    const data = path.join(out, 'shard-00000-of-00001.safetensors.data.tmp');
    fs.appendFileSync(data, Buffer.alloc(10)); // ... while writing r2's tensors, before its journal line
    fs.appendFileSync(path.join(out, 'shard-00000-of-00001.safetensors.rows.tmp'), '{"id": "r2", "tens');
    const b = new FeatureShardWriter(out, [0, 1], 'float32', 'k1');
    expect(b.resumed).toBe(2);
    expect([b.has('r0'), b.has('r1'), b.has('r2')]).toEqual([true, true, false]);
    b.addRow('r2', row(2));
    b.skip('r3', 'bad image');
    b.finish(settings());
    expect(fs.readFileSync(path.join(out, 'shard-00000-of-00001.safetensors'))).toEqual(
      fs.readFileSync(path.join(dir, 'c-whole', 'shard-00000-of-00001.safetensors')),
    );
    expect(fs.readdirSync(out).filter((f) => f.includes('.tmp'))).toEqual([]);

    const c = new FeatureShardWriter(path.join(dir, 'd'), [0, 1], 'float32', 'k1');
    c.addRow('r0', row(0));
    c.close();
    const d = new FeatureShardWriter(path.join(dir, 'd'), [0, 1], 'float32', 'k2');
    expect(d.resumed).toBe(0);
    expect(d.has('r0')).toBe(false);
    d.close();
  });

  it('reads the image rows and first questions of LLaVA JSON and suite JSONL', () => {
    const d = path.join(dir, 'data');
    fs.mkdirSync(path.join(d, 'img'), { recursive: true });
    fs.writeFileSync(path.join(d, 'img', 'a.png'), 'x');
    const conv = (q: string) => [
      { from: 'human', value: q },
      { from: 'gpt', value: 'ok' },
    ];
    fs.writeFileSync(
      path.join(d, 'train.json'),
      JSON.stringify([
        { id: 'one', image: 'img/a.png', conversations: conv('<image>\nWhat colour is it?') },
        { id: 'text', conversations: conv('hello') },
        { image: 'img/a.png', conversations: conv('Describe.\n<image>') },
        { id: 'gone', image: 'img/missing.png', conversations: conv('<image>\nq') },
        { id: 'one', image: 'img/a.png', conversations: conv('<image>\nagain') },
      ]),
    );
    fs.writeFileSync(
      path.join(d, 'suite.jsonl'),
      `${JSON.stringify({ id: 's1', image: 'img/a.png', question: 'how many?', answer: 'two' })}\n\n${JSON.stringify({ id: 's2', image: 'img/a.png', question: 'q', answer: true })}\n`,
    );
    const r = readTrainingRows([path.join(d, 'train.json'), path.join(d, 'suite.jsonl')]);
    expect(r.rows.map((x) => [x.id, x.question])).toEqual([
      ['one', 'What colour is it?'],
      ['train.json:2', 'Describe.'],
      ['s1', 'how many?'],
    ]);
    expect(r.rows[0].image).toBe(path.join(d, 'img', 'a.png'));
    expect(r.textOnly).toBe(1);
    expect(r.skipped.map((s) => s.reason).sort()).toEqual(['duplicate_id', 'image_missing', 'malformed_row']);
  });
});
