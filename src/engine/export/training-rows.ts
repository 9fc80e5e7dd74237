/**
 * The image rows of projector-training data, for feature extraction: LLaVA
 * JSON lists (LLaVA-Pretrain / LLaVA-Instruct: `{"id", "image",
 * "conversations": [{"from": "human", "value": "<image>\n..."}, ...]}`,
 * images relative to an image folder, default the file's folder) and our
 * suite JSONL (`{"id", "image" relative to the file, "question", ...}`).
 *
 * Only what extraction needs is read: the row id (the same id the Python
 * readers in training/twinlens_train/llava/data.py give, including their
 * `<file>:<index>` default), the image path and the first question (the
 * first human turn without the `<image>` tag), which is the SD prompt of
 * stage-2 features. Text-only rows have no features and are left out; rows
 * the trainer would refuse are reported, not fatal, because one bad row in
 * 665k must not stop an extraction.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { TwinLensError } from '../../shared/errors.js';

export interface TrainingRow {
  id: string;
  /** Absolute image path. */
  image: string;
  question: string;
  source: string;
  index: number;
}

export interface RowsReport {
  rows: TrainingRow[];
  textOnly: number;
  skipped: Array<{ source: string; index: number; id?: string; reason: string }>;
}

const IMAGE_TAG = '<image>';

export function questionText(humanTurn: string): string {
  return humanTurn.split(IMAGE_TAG).join('').trim();
}

function readLlavaJson(file: string, imageFolder: string | undefined, out: RowsReport): void {
  let rows: unknown;
  try {
    rows = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (e) {
    throw new TwinLensError('INVALID_ARGUMENT', `${file} is not a JSON list: ${(e as Error).message}`);
  }
  if (!Array.isArray(rows)) throw new TwinLensError('INVALID_ARGUMENT', `${file}: the top level is not a JSON list of LLaVA rows`);
  const folder = imageFolder ?? path.dirname(path.resolve(file));
  rows.forEach((row: unknown, index) => {
    const r = row as { id?: unknown; image?: unknown; conversations?: Array<{ from?: unknown; value?: unknown }> };
    if (!r || typeof r !== 'object' || !Array.isArray(r.conversations)) {
      out.skipped.push({ source: file, index, reason: 'malformed_row' });
      return;
    }
    const id = r.id !== undefined && r.id !== null ? String(r.id) : `${path.basename(file)}:${index}`;
    if (r.image === undefined || r.image === null || r.image === '') {
      out.textOnly++;
      return;
    }
    if (typeof r.image !== 'string') {
      out.skipped.push({ source: file, index, id, reason: 'malformed_row' });
      return;
    }
    const first = r.conversations[0];
    if (!first || first.from !== 'human' || typeof first.value !== 'string' || !first.value.includes(IMAGE_TAG)) {
      out.skipped.push({ source: file, index, id, reason: 'missing_image_token' });
      return;
    }
    out.rows.push({ id, image: path.resolve(folder, r.image), question: questionText(first.value), source: file, index });
  });
}

function readSuiteJsonl(file: string, out: RowsReport): void {
  const folder = path.dirname(path.resolve(file));
  fs.readFileSync(file, 'utf8')
    .split('\n')
    .forEach((line, index) => {
      if (!line.trim()) return;
      let r: { id?: unknown; image?: unknown; question?: unknown; answer?: unknown };
      try {
        r = JSON.parse(line) as typeof r;
      } catch {
        out.skipped.push({ source: file, index, reason: 'unparseable_json' });
        return;
      }
      if (!r || typeof r.question !== 'string' || typeof r.answer !== 'string') {
        out.skipped.push({ source: file, index, reason: 'malformed_row' });
        return;
      }
      const id = r.id !== undefined && r.id !== null ? String(r.id) : `${path.basename(file)}:${index}`;
      if (typeof r.image !== 'string' || !r.image) {
        out.textOnly++;
        return;
      }
      out.rows.push({ id, image: path.resolve(folder, r.image), question: r.question.trim(), source: file, index });
    });
}

/**
 * Image rows of every file in order (.jsonl = suite, else LLaVA JSON); the
 * first row of an id wins, later duplicates and rows whose image file is
 * missing are reported.
 */
export function readTrainingRows(files: string[], imageFolder?: string): RowsReport {
  const out: RowsReport = { rows: [], textOnly: 0, skipped: [] };
  for (const f of files) {
    if (!fs.existsSync(f)) throw new TwinLensError('INVALID_ARGUMENT', `data file ${f} does not exist`);
    if (f.endsWith('.jsonl')) readSuiteJsonl(f, out);
    else readLlavaJson(f, imageFolder, out);
  }
  const seen = new Set<string>();
  const rows: TrainingRow[] = [];
  for (const r of out.rows) {
    if (seen.has(r.id)) out.skipped.push({ source: r.source, index: r.index, id: r.id, reason: 'duplicate_id' });
    else if (r.id.includes('/')) out.skipped.push({ source: r.source, index: r.index, id: r.id, reason: 'id_contains_slash' });
    else if (!fs.existsSync(r.image)) out.skipped.push({ source: r.source, index: r.index, id: r.id, reason: 'image_missing' });
    else {
      seen.add(r.id);
      rows.push(r);
    }
  }
  out.rows = rows;
  return out;
}
