/**
 * The MMVP suite layout: a CSV (Questions.csv) with the columns Index,
 * Question, Options, Correct Answer, and an image folder holding
 * <Index>.jpg|jpeg|png|webp ("MMVP Images" beside the CSV in the published
 * benchmark). Options are one string, "(a) Open (b) Closed"; the correct
 * answer names a letter, "(a)". Consecutive rows form pairs — rows 1+2 are
 * pair 1, rows 3+4 pair 2, … in file order — scored together. An optional
 * Category column is kept. Header names are matched case-insensitively
 * (the published file spells the first one "lndex").
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { TwinLensError } from '../../shared/errors.js';
import { parseOptionString, referenceOption } from './answer-match.js';
import { LineErrors, pairWarnings, sha256File, type Suite, type SuiteItem, suiteName } from './suite.js';

export interface CsvRow {
  /** 1-based line where the record starts. */
  line: number;
  cells: string[];
}

/**
 * RFC 4180 CSV: comma-separated, fields optionally in double quotes with ""
 * as an escaped quote, quoted fields may span lines; CRLF or LF; a BOM is
 * dropped. Throws on an unterminated quote.
 */
export function parseCsv(text: string, file = 'csv'): CsvRow[] {
  const s = text.replace(/^\uFEFF/, '');
  const rows: CsvRow[] = [];
  let cells: string[] = [];
  let cell = '';
  let quoted = false;
  let line = 1;
  let rowLine = 1;
  let i = 0;
  const endRow = () => {
    cells.push(cell);
    if (cells.length > 1 || cells[0].trim() !== '') rows.push({ line: rowLine, cells });
    cells = [];
    cell = '';
  };
  while (i < s.length) {
    const c = s[i];
    if (quoted) {
      if (c === '"' && s[i + 1] === '"') {
        cell += '"';
        i += 2;
        continue;
      }
      if (c === '"') quoted = false;
      else {
        if (c === '\n') line++;
        cell += c;
      }
      i++;
      continue;
    }
    if (c === '"' && cell.trim() === '') {
      quoted = true;
      cell = '';
    } else if (c === ',') {
      cells.push(cell);
      cell = '';
    } else if (c === '\n' || c === '\r') {
      endRow();
      if (c === '\r' && s[i + 1] === '\n') i++;
      line++;
      rowLine = line;
    } else cell += c;
    i++;
  }
  if (quoted) throw new TwinLensError('INVALID_ARGUMENT', `Malformed suite: ${file}:${rowLine}: unterminated quoted field`);
  if (cell !== '' || cells.length) endRow();
  return rows;
}

const IMAGE_EXTS = ['.jpg', '.jpeg', '.png', '.webp', '.JPG', '.JPEG', '.PNG'];

function defaultImagesDir(csvFile: string): string {
  const dir = path.dirname(csvFile);
  for (const name of ['MMVP Images', 'images', 'Images']) {
    const d = path.join(dir, name);
    if (fs.existsSync(d) && fs.statSync(d).isDirectory()) return d;
  }
  return dir;
}

function column(header: string[], names: string[]): number {
  const h = header.map((x) => x.trim().toLowerCase());
  for (const n of names) {
    const i = h.indexOf(n);
    if (i >= 0) return i;
  }
  return -1;
}

/** Reads an MMVP-layout suite; throws INVALID_ARGUMENT listing file:line for each malformed row. */
export function readMmvpSuite(file: string, imagesDir?: string): Suite {
  const shown = path.basename(file);
  const errors = new LineErrors(shown);
  const rows = parseCsv(fs.readFileSync(file, 'utf8'), shown);
  if (!rows.length) {
    errors.add(1, 'empty file (expected a header: Index,Question,Options,Correct Answer)');
    errors.throwIfAny();
  }
  const header = rows[0].cells;
  const col = {
    index: column(header, ['index', 'lndex', 'id']),
    question: column(header, ['question']),
    options: column(header, ['options']),
    answer: column(header, ['correct answer', 'answer']),
    category: column(header, ['category', 'type']),
  };
  const missing = (['index', 'question', 'options', 'answer'] as const).filter((k) => col[k] < 0);
  if (missing.length) {
    errors.add(
      rows[0].line,
      `header lacks ${missing.map((m) => (m === 'answer' ? 'Correct Answer' : m[0].toUpperCase() + m.slice(1))).join(', ')} (found ${header.length} columns)`,
    );
    errors.throwIfAny();
  }
  const images = imagesDir ? path.resolve(imagesDir) : defaultImagesDir(file);
  const items: SuiteItem[] = [];
  const seen = new Map<string, number>();
  for (let r = 1; r < rows.length; r++) {
    const { line, cells } = rows[r];
    const get = (i: number) => (i >= 0 ? (cells[i] ?? '').trim() : '');
    const id = get(col.index);
    const question = get(col.question);
    const optionText = get(col.options);
    const answer = get(col.answer);
    const problems: string[] = [];
    if (!id) problems.push('empty Index');
    if (!question) problems.push('empty Question');
    if (!answer) problems.push('empty Correct Answer');
    const options = optionText ? parseOptionString(optionText) : undefined;
    if (!options) problems.push(`Options "${optionText.slice(0, 60)}" is not of the form "(a) … (b) …"`);
    if (problems.length) {
      errors.add(line, problems.join(', '));
      continue;
    }
    if (seen.has(id)) {
      errors.add(line, `duplicate Index "${id}" (first on line ${seen.get(id)})`);
      continue;
    }
    seen.set(id, line);
    if (referenceOption(answer, options!) < 0) {
      errors.add(line, `Correct Answer "${answer}" names no option of "${optionText}"`);
      continue;
    }
    const image = IMAGE_EXTS.map((e) => path.join(images, `${id}${e}`)).find((p) => fs.existsSync(p));
    if (!image) {
      errors.add(line, `no image ${id}.jpg/.png/.webp in ${images}`);
      continue;
    }
    const pos = items.length;
    const category = get(col.category);
    items.push({ id, index: pos, image, question, answer, options: options!, pair: `pair-${Math.floor(pos / 2) + 1}`, ...(category ? { category } : {}) });
  }
  errors.throwIfAny();
  if (!items.length) {
    errors.add(rows[0].line, 'no items below the header');
    errors.throwIfAny();
  }
  return { name: suiteName(file), path: file, format: 'mmvp', hash: sha256File(file), items, warnings: pairWarnings(items, shown) };
}
