/**
 * The results file: JSONL, a header line then one judged item record per
 * line, appended (and flushed) as each item finishes. It is what makes a run
 * resumable — a restarted run reads it, checks the header matches its own
 * settings, and skips the items already there — and what shards write and
 * `--merge` combines. A torn last line (the process was killed mid-write) is
 * dropped and overwritten. Records are re-judged on read, so files written
 * under older matching rules score by the current ones.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { TwinLensError } from '../../shared/errors.js';
import { matchAnswer } from './answer-match.js';
import { headerDifferences, type ItemRecord, recordKey, RESULTS_FORMAT, type RunHeader } from './records.js';

export interface ResultsContents {
  header: RunHeader;
  records: ItemRecord[];
  /** Byte length of the complete lines (a torn tail starts here). */
  validBytes: number;
}

/** Re-applies the matching rules to every answer of a record (in place) and returns it. */
export function judge(r: ItemRecord): ItemRecord {
  for (const a of Object.values(r.answers)) {
    const m = a.error ? { correct: false, rule: 'none' as const } : matchAnswer(a.text, r.answer, r.options);
    a.correct = m.correct;
    a.rule = m.rule;
    if ('chosen' in m && m.chosen !== undefined) a.chosen = m.chosen;
    else delete a.chosen;
  }
  return r;
}

/** Reads a results file; throws INVALID_ARGUMENT with file:line on a malformed line (other than a torn last one). */
export function readResults(file: string): ResultsContents {
  const text = fs.readFileSync(file, 'utf8');
  const shown = path.basename(file);
  let header: RunHeader | undefined;
  const records: ItemRecord[] = [];
  const seen = new Map<string, number>();
  let offset = 0;
  let validBytes = 0;
  let line = 0;
  while (offset < text.length) {
    const nl = text.indexOf('\n', offset);
    line++;
    if (nl < 0) break; // torn tail: no newline yet
    const rawLine = text.slice(offset, nl + 1);
    const raw = rawLine.trim();
    offset = nl + 1;
    if (raw) {
      let obj: { type?: string };
      try {
        obj = JSON.parse(raw);
      } catch (e) {
        throw new TwinLensError('INVALID_ARGUMENT', `${shown}:${line}: not a results line (${(e as Error).message})`);
      }
      if (obj.type === 'header') {
        if (header) throw new TwinLensError('INVALID_ARGUMENT', `${shown}:${line}: a second header`);
        if ((obj as RunHeader).format !== RESULTS_FORMAT)
          throw new TwinLensError('INVALID_ARGUMENT', `${shown}:${line}: not a TwinLens results file (format ${JSON.stringify((obj as RunHeader).format)})`);
        header = obj as RunHeader;
      } else if (obj.type === 'item') {
        if (!header) throw new TwinLensError('INVALID_ARGUMENT', `${shown}:${line}: item before the header`);
        const r = obj as ItemRecord;
        if (typeof r.id !== 'string' || typeof r.setting !== 'string' || !r.answers)
          throw new TwinLensError('INVALID_ARGUMENT', `${shown}:${line}: item record lacks id, setting or answers`);
        const k = recordKey(r);
        if (seen.has(k)) throw new TwinLensError('INVALID_ARGUMENT', `${shown}:${line}: item "${r.id}" (${r.setting}) repeats line ${seen.get(k)}`);
        seen.set(k, line);
        records.push(judge(r));
      } else throw new TwinLensError('INVALID_ARGUMENT', `${shown}:${line}: unknown record type ${JSON.stringify(obj.type)}`);
    }
    validBytes += Buffer.byteLength(rawLine, 'utf8');
  }
  if (!header) throw new TwinLensError('INVALID_ARGUMENT', `${shown}: no header line: not a TwinLens results file`);
  return { header, records, validBytes };
}

/** Appends records to a results file, one flushed line each. */
export class ResultsWriter {
  private constructor(
    readonly file: string,
    private fd: number,
    private position: number,
  ) {}

  /**
   * Opens `file` for a run with `header`: creates it, or — when it exists —
   * checks its header matches (else INVALID_ARGUMENT naming the differences),
   * cuts a torn tail, and returns the records already there.
   */
  static open(file: string, header: RunHeader, opts: { fresh?: boolean } = {}): { writer: ResultsWriter; done: ItemRecord[] } {
    fs.mkdirSync(path.dirname(path.resolve(file)), { recursive: true });
    if (opts.fresh || !fs.existsSync(file) || fs.statSync(file).size === 0) {
      const fd = fs.openSync(file, 'w');
      const w = new ResultsWriter(file, fd, 0);
      w.write(`${JSON.stringify(header)}\n`);
      return { writer: w, done: [] };
    }
    const existing = readResults(file);
    const diffs = headerDifferences(existing.header, header);
    if (diffs.length) {
      throw new TwinLensError(
        'INVALID_ARGUMENT',
        `${file} holds results of a different run (${diffs.join('; ')})`,
        'Use another results file, or --fresh to start it over',
      );
    }
    const fd = fs.openSync(file, 'r+');
    fs.ftruncateSync(fd, existing.validBytes);
    return { writer: new ResultsWriter(file, fd, existing.validBytes), done: existing.records };
  }

  private write(line: string): void {
    const bytes = Buffer.from(line, 'utf8');
    fs.writeSync(this.fd, bytes, 0, bytes.length, this.position);
    this.position += bytes.length;
    fs.fsyncSync(this.fd);
  }

  append(r: ItemRecord): void {
    this.write(`${JSON.stringify(r)}\n`);
  }

  close(): void {
    if (this.fd >= 0) fs.closeSync(this.fd);
    this.fd = -1;
  }
}

/**
 * Merges the results files of one run's shards (or of resumed pieces): the
 * headers must agree on everything but the shard index; a record present in
 * two files must have the same answers. Returns the shard-less header and the
 * records in (setting, index) order.
 */
export function mergeResults(files: readonly string[]): { header: RunHeader; records: ItemRecord[]; shardsSeen: number[] } {
  if (!files.length) throw new TwinLensError('INVALID_ARGUMENT', '--merge needs at least one results file');
  const parts = files.map((f) => ({ file: f, ...readResults(f) }));
  const first = parts[0];
  const byKey = new Map<string, { r: ItemRecord; file: string }>();
  const shardsSeen = new Set<number>();
  for (const p of parts) {
    const diffs = headerDifferences(first.header, p.header, true);
    if (diffs.length) throw new TwinLensError('INVALID_ARGUMENT', `${p.file} is not part of the same run as ${first.file} (${diffs.join('; ')})`);
    shardsSeen.add(p.header.shard?.index ?? 1);
    for (const r of p.records) {
      const k = recordKey(r);
      const prev = byKey.get(k);
      if (prev) {
        const same =
          JSON.stringify(Object.fromEntries(Object.entries(prev.r.answers).map(([m, a]) => [m, a.text]))) ===
          JSON.stringify(Object.fromEntries(Object.entries(r.answers).map(([m, a]) => [m, a.text])));
        if (!same) throw new TwinLensError('INVALID_ARGUMENT', `Item "${r.id}" (${r.setting}) has different answers in ${prev.file} and ${p.file}`);
        continue;
      }
      byKey.set(k, { r, file: p.file });
    }
  }
  const { shard: _shard, ...header } = first.header;
  const order = new Map((header.sweep ? header.sweep.values.map((v) => `${header.sweep!.key}=${v}`) : ['default']).map((s, i) => [s, i]));
  const records = [...byKey.values()].map((x) => x.r).sort((a, b) => (order.get(a.setting) ?? 0) - (order.get(b.setting) ?? 0) || a.index - b.index);
  return { header: header as RunHeader, records, shardsSeen: [...shardsSeen].sort((a, b) => a - b) };
}
