/**
 * Benchmark suites: what an evaluation runs over. A suite is a list of items
 * (image, question, reference answer, optional options, pair and category),
 * read from a generic JSONL file or the MMVP layout, or found by name in the
 * pack's suites/ folder (`mini-world-test` → <pack>/suites/mini-world-test.jsonl).
 * This file holds the item type, name resolution and the shared error
 * reporting (every malformed line is reported as file:line and what is wrong);
 * the two readers live beside it.
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { TwinLensError } from '../../shared/errors.js';
import type { AnswerOption } from './answer-match.js';

export interface SuiteItem {
  /** Unique within the suite. */
  id: string;
  /** 0-based position in the suite file (shards split on it). */
  index: number;
  /** Absolute image path. */
  image: string;
  question: string;
  /** Reference answer: text, or an option letter such as "(a)". */
  answer: string;
  options?: AnswerOption[];
  /** Items sharing a pair id are scored together (all right = pair right). */
  pair?: string;
  category?: string;
  /** A caption of the image (JSONL "caption"): the leakage probe's caption task uses it. */
  caption?: string;
  /** Other scalar fields of a JSONL line (e.g. "target": "small"): `eval --by FIELD` breaks scores down by them. */
  tags?: Record<string, string>;
}

export type SuiteFormat = 'jsonl' | 'mmvp';

export interface Suite {
  /** File name without extension (or the built-in name). */
  name: string;
  path: string;
  format: SuiteFormat;
  /** sha256 of the suite file: results files and shards check it. */
  hash: string;
  items: SuiteItem[];
  /** Non-fatal findings (a pair id with a single item, …). */
  warnings: string[];
}

export interface LoadSuiteOptions {
  /** Pack folder whose suites/ holds built-in suites. */
  packDir?: string;
  /** MMVP: the image folder (default: "MMVP Images", "images" or the CSV's folder). */
  imagesDir?: string;
}

/** Collects line errors and throws them together as one INVALID_ARGUMENT. */
export class LineErrors {
  private errors: string[] = [];
  constructor(private file: string) {}

  add(line: number, what: string): void {
    this.errors.push(`${this.file}:${line}: ${what}`);
  }

  get count(): number {
    return this.errors.length;
  }

  throwIfAny(): void {
    if (!this.errors.length) return;
    const shown = this.errors.slice(0, 5).join('; ');
    const more = this.errors.length > 5 ? `; and ${this.errors.length - 5} more` : '';
    throw new TwinLensError('INVALID_ARGUMENT', `Malformed suite: ${shown}${more}`, 'Each item needs image, question and answer; see README § Evaluation');
  }
}

export function sha256File(file: string): string {
  return createHash('sha256').update(fs.readFileSync(file)).digest('hex');
}

/** Warnings for pair ids that only one item carries. */
export function pairWarnings(items: readonly SuiteItem[], file: string): string[] {
  const count = new Map<string, number>();
  for (const it of items) if (it.pair !== undefined) count.set(it.pair, (count.get(it.pair) ?? 0) + 1);
  return [...count].filter(([, n]) => n < 2).map(([p]) => `${file}: pair "${p}" has a single item; it is left out of pair accuracy`);
}

function isFile(p: string): boolean {
  return fs.existsSync(p) && fs.statSync(p).isFile();
}

function isDir(p: string): boolean {
  return fs.existsSync(p) && fs.statSync(p).isDirectory();
}

/** A suite file inside a folder: Questions.csv (MMVP) or the folder's only .jsonl/.csv. */
function suiteInDir(dir: string): string | undefined {
  const q = fs.readdirSync(dir).find((f) => f.toLowerCase() === 'questions.csv');
  if (q) return path.join(dir, q);
  const files = fs.readdirSync(dir).filter((f) => /\.(jsonl|csv)$/i.test(f));
  return files.length === 1 ? path.join(dir, files[0]) : undefined;
}

/**
 * Names of the built-in suites of a pack (<pack>/suites/*.jsonl|csv, and sub-folders that hold a
 * suite). A folder of images beside the suites (mini-world's suites/images/) is not one: listing it
 * made listSuites throw, and the Eval view showed no built-in suite at all.
 */
export function builtInSuites(packDir: string | undefined): string[] {
  if (!packDir) return [];
  const dir = path.join(packDir, 'suites');
  if (!isDir(dir)) return [];
  return fs
    .readdirSync(dir)
    .filter((f) => /\.(jsonl|csv)$/i.test(f) || (isDir(path.join(dir, f)) && suiteInDir(path.join(dir, f)) !== undefined))
    .map((f) => f.replace(/\.(jsonl|csv)$/i, ''))
    .sort();
}

/**
 * Finds the suite file for `spec`: an existing file; a folder holding one
 * suite; else a built-in name looked up in <pack>/suites/ as NAME.jsonl,
 * NAME.csv or NAME/.
 */
export function resolveSuitePath(spec: string, packDir?: string): string {
  const direct = path.resolve(spec);
  if (isFile(direct)) return direct;
  if (isDir(direct)) {
    const inside = suiteInDir(direct);
    if (inside) return inside;
    throw new TwinLensError('INVALID_ARGUMENT', `Suite folder ${direct} holds no Questions.csv and no single .jsonl/.csv file`);
  }
  if (packDir && !/[\\/]/.test(spec)) {
    const base = path.join(packDir, 'suites', spec);
    for (const candidate of [`${base}.jsonl`, `${base}.csv`]) if (isFile(candidate)) return candidate;
    if (isDir(base)) {
      const inside = suiteInDir(base);
      if (inside) return inside;
    }
  }
  const available = builtInSuites(packDir);
  const where = packDir ? `, and ${path.join(packDir, 'suites')} has no "${spec}"` : '';
  throw new TwinLensError(
    'INVALID_ARGUMENT',
    `Suite "${spec}" not found: no such file or folder${where}`,
    available.length ? `Built-in suites of this pack: ${available.join(', ')}` : 'Pass a .jsonl file, an MMVP Questions.csv or its folder',
  );
}

/** Display name of a suite file: its base name, or its folder's for Questions.csv. */
export function suiteName(file: string): string {
  const base = path.basename(file).replace(/\.(jsonl|csv)$/i, '');
  return base.toLowerCase() === 'questions' ? path.basename(path.dirname(file)) : base;
}
