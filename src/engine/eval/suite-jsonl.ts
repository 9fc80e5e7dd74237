/**
 * The generic JSONL suite reader: one JSON object per line,
 *
 *   {"id": "q1", "image": "img/0001.png", "question": "what colour is the circle",
 *    "answer": "red", "options": ["red", "blue"], "pair": "p1", "category": "colour"}
 *
 * `image` is relative to the JSONL file (or absolute); `answer` may be a
 * string, number or boolean (true/false → yes/no); `options` a list of texts
 * (letters a, b, … in order) or one MMVP-style string "(a) Open (b) Closed";
 * `id`, `pair`, `category` and `caption` (a caption of the image, for the
 * leakage probe's caption task) are optional (id defaults to the line
 * number). Other string, number or boolean fields are kept as tags
 * (`eval --by FIELD` breaks scores down by one). Blank lines are skipped.
 * Every malformed line is reported as file:line.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { type AnswerOption, optionsFromList, parseOptionString, referenceOption } from './answer-match.js';
import { LineErrors, pairWarnings, sha256File, type Suite, type SuiteItem, suiteName } from './suite.js';

const KNOWN = new Set(['id', 'image', 'question', 'answer', 'options', 'pair', 'category', 'caption']);

function asText(v: unknown): string | undefined {
  if (typeof v === 'string') return v;
  if (typeof v === 'number' && Number.isFinite(v)) return String(v);
  return undefined;
}

/** Options from a JSONL value, or an error message. */
export function readOptions(v: unknown): AnswerOption[] | string {
  if (typeof v === 'string') return parseOptionString(v) ?? `"options" string "${v.slice(0, 60)}" is not of the form "(a) … (b) …"`;
  if (Array.isArray(v)) {
    if (v.length < 2) return '"options" needs at least two entries';
    if (v.length > 26) return '"options" has more than 26 entries';
    if (!v.every((o) => typeof o === 'string' || typeof o === 'number')) return '"options" entries must be strings';
    const opts = optionsFromList(v.map(String));
    return opts.some((o) => !o.text) ? '"options" has an empty entry' : opts;
  }
  return '"options" must be a list of strings or a string "(a) … (b) …"';
}

/** Parses one line's object into an item (without the id-uniqueness check), or returns what is wrong. */
export function itemFromJson(obj: unknown, dir: string, index: number, line: number): SuiteItem | string {
  if (!obj || typeof obj !== 'object' || Array.isArray(obj)) return 'expected a JSON object';
  const o = obj as Record<string, unknown>;
  const problems: string[] = [];
  const id = o.id === undefined ? String(line) : asText(o.id);
  if (id === undefined || id === '') problems.push('"id" must be a non-empty string or a number');
  if (typeof o.image !== 'string' || !o.image) problems.push('missing "image" (a path relative to the suite file)');
  if (typeof o.question !== 'string' || !o.question.trim()) problems.push('missing "question"');
  const answer = typeof o.answer === 'boolean' ? (o.answer ? 'yes' : 'no') : asText(o.answer);
  if (answer === undefined || !answer.trim()) problems.push('missing "answer" (a string, number or boolean)');
  let options: AnswerOption[] | undefined;
  if (o.options !== undefined && o.options !== null) {
    const r = readOptions(o.options);
    if (typeof r === 'string') problems.push(r);
    else options = r;
  }
  if (o.pair !== undefined && o.pair !== null && asText(o.pair) === undefined) problems.push('"pair" must be a string or a number');
  if (o.category !== undefined && o.category !== null && typeof o.category !== 'string') problems.push('"category" must be a string');
  if (o.caption !== undefined && o.caption !== null && typeof o.caption !== 'string') problems.push('"caption" must be a string');
  const unknown = Object.keys(o).filter((k) => !KNOWN.has(k));
  if (problems.length) return problems.join(', ') + (unknown.length ? ` (other fields: ${unknown.join(', ')})` : '');
  const tags: Record<string, string> = {};
  for (const k of unknown) {
    const v = o[k];
    if (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean') tags[k] = String(v);
  }
  const image = path.resolve(dir, o.image as string);
  if (!fs.existsSync(image)) return `image not found: ${image}`;
  if (options && referenceOption(answer!, options) < 0) {
    return `answer "${answer}" is neither an option letter nor one option's text (options: ${options.map((x) => `(${x.letter}) ${x.text}`).join(' ')})`;
  }
  return {
    id: id!,
    index,
    image,
    question: (o.question as string).trim(),
    answer: answer!.trim(),
    ...(options ? { options } : {}),
    ...(o.pair !== undefined && o.pair !== null ? { pair: asText(o.pair)! } : {}),
    ...(typeof o.category === 'string' && o.category ? { category: o.category } : {}),
    ...(typeof o.caption === 'string' && o.caption.trim() ? { caption: o.caption.trim() } : {}),
    ...(Object.keys(tags).length ? { tags } : {}),
  };
}

/** Reads a JSONL suite; throws INVALID_ARGUMENT listing file:line for each malformed line. */
export function readJsonlSuite(file: string): Suite {
  const text = fs.readFileSync(file, 'utf8');
  const dir = path.dirname(file);
  const shown = path.basename(file);
  const errors = new LineErrors(shown);
  const items: SuiteItem[] = [];
  const firstLine = new Map<string, number>();
  const lines = text.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const raw = lines[i].trim();
    if (!raw) continue;
    const line = i + 1;
    let obj: unknown;
    try {
      obj = JSON.parse(raw);
    } catch {
      // V8's message quotes the offending text: never echo a file's content (it may not be a suite at all)
      errors.add(line, 'invalid JSON (each line must be one JSON object)');
      continue;
    }
    const item = itemFromJson(obj, dir, items.length, line);
    if (typeof item === 'string') {
      errors.add(line, item);
      continue;
    }
    const seen = firstLine.get(item.id);
    if (seen !== undefined) {
      errors.add(line, `duplicate id "${item.id}" (first on line ${seen})`);
      continue;
    }
    firstLine.set(item.id, line);
    items.push(item);
  }
  errors.throwIfAny();
  if (!items.length) errors.add(1, 'the suite has no items');
  errors.throwIfAny();
  return { name: suiteName(file), path: file, format: 'jsonl', hash: sha256File(file), items, warnings: pairWarnings(items, shown) };
}
