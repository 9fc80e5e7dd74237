/**
 * Suite readers: the JSONL format (the committed fixture suite and malformed
 * lines reported as file:line with what is wrong), the MMVP layout (a CSV
 * with quoted fields and an image folder, built in a temp dir from the
 * fixture images), and built-in names resolved from a pack's suites/ folder.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadSuite } from '../../../src/engine/eval/index.js';
import { parseCsv } from '../../../src/engine/eval/suite-mmvp.js';
import { FIXTURES, SAMPLE, SAMPLE_B } from '../../helpers/fixtures.js';

const SUITE = path.join(FIXTURES, 'suites', 'tiny-shapes.jsonl');
const tmps: string[] = [];
function tmp(): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'twinlens-suite-'));
  tmps.push(d);
  return d;
}
afterAll(() => tmps.forEach((d) => fs.rmSync(d, { recursive: true, force: true })));

function errorOf(f: () => unknown): { code?: string; message: string } {
  try {
    f();
  } catch (e) {
    return e as { code?: string; message: string };
  }
  throw new Error('expected an error');
}

describe('JSONL suites', () => {
  it('reads the fixture suite: paths, options, pairs, categories, booleans', () => {
    const s = loadSuite(SUITE);
    expect(s).toMatchObject({ name: 'tiny-shapes', format: 'jsonl', warnings: [] });
    expect(s.hash).toMatch(/^[0-9a-f]{64}$/);
    expect(s.items).toHaveLength(8);
    expect(s.items[0]).toMatchObject({
      id: 'colour-a',
      index: 0,
      image: SAMPLE,
      answer: 'red',
      pair: 'colour',
      category: 'colour',
      caption: 'a red circle and two squares',
      tags: { target: 'small' },
    });
    expect(s.items[4].options).toEqual([
      { letter: 'a', text: 'left' },
      { letter: 'b', text: 'right' },
    ]);
    expect(s.items[5]).toMatchObject({ image: SAMPLE_B, answer: 'right' });
    expect(s.items[6]).toMatchObject({ answer: 'yes' });
    expect(s.items[6].pair).toBeUndefined();
  });

  it('reports every malformed line as file:line: what is wrong', () => {
    const d = tmp();
    const file = path.join(d, 'bad.jsonl');
    fs.copyFileSync(SAMPLE, path.join(d, 'x.png'));
    fs.writeFileSync(
      file,
      [
        '{"id": 1, "image": "x.png", "question": "q?", "answer": "a"}',
        '{"id": 2, "image": "x.png", "question": "q?"',
        '',
        '{"id": 3, "image": "missing.png", "question": "q?", "answer": "a"}',
        '{"id": 1, "image": "x.png", "question": "q?", "answer": "a"}',
        '{"id": 5, "image": "x.png", "answer": "a", "colour": "red"}',
        '{"id": 6, "image": "x.png", "question": "q?", "answer": "(c)", "options": ["yes", "no"]}',
        '[1, 2]',
      ].join('\n'),
    );
    const e = errorOf(() => loadSuite(file));
    expect(e.code).toBe('INVALID_ARGUMENT');
    expect(e.message).toContain('bad.jsonl:2: invalid JSON');
    expect(e.message).toContain(`bad.jsonl:4: image not found: ${path.join(d, 'missing.png')}`);
    expect(e.message).toContain('bad.jsonl:5: duplicate id "1" (first on line 1)');
    expect(e.message).toContain('bad.jsonl:6: missing "question" (other fields: colour)');
    expect(e.message).toContain('bad.jsonl:7: answer "(c)" is neither an option letter nor one option\'s text (options: (a) yes (b) no)');
    expect(e.message).toMatch(/; and 1 more$/); // line 8: not an object
  });

  it('warns about a pair id with one item', () => {
    const d = tmp();
    const file = path.join(d, 's.jsonl');
    fs.copyFileSync(SAMPLE, path.join(d, 'x.png'));
    fs.writeFileSync(
      file,
      '{"id": "a", "image": "x.png", "question": "q", "answer": "1", "pair": 7}\n{"id": "b", "image": "x.png", "question": "q", "answer": "2"}\n',
    );
    expect(loadSuite(file).warnings).toEqual(['s.jsonl: pair "7" has a single item; it is left out of pair accuracy']);
  });
});

describe('MMVP layout', () => {
  function mmvp(csv: string): string {
    const d = tmp();
    fs.mkdirSync(path.join(d, 'MMVP Images'));
    for (const i of [1, 2, 3, 4]) fs.copyFileSync(i % 2 ? SAMPLE : SAMPLE_B, path.join(d, 'MMVP Images', `${i}.png`));
    fs.writeFileSync(path.join(d, 'Questions.csv'), csv);
    return d;
  }

  it('parses quoted CSV fields', () => {
    expect(parseCsv('a,b\r\n"x, ""y""",2\n"multi\nline",3\n').map((r) => [r.line, r.cells])).toEqual([
      [1, ['a', 'b']],
      [2, ['x, "y"', '2']],
      [3, ['multi\nline', '3']],
    ]);
  });

  it('reads Index/Question/Options/Correct Answer with consecutive pairs', () => {
    const d = mmvp(
      'lndex,Question,Options,Correct Answer\n1,"Is the door open, or closed?",(a) Open (b) Closed,(a)\n2,"Is the door open, or closed?",(a) Open (b) Closed,(b)\n3,Which way?,(a) left (b) right,(b)\n4,Which way?,(a) left (b) right,(a)\n',
    );
    const s = loadSuite(d);
    expect(s).toMatchObject({ name: path.basename(d), format: 'mmvp' });
    expect(s.items.map((i) => [i.id, i.pair, i.answer])).toEqual([
      ['1', 'pair-1', '(a)'],
      ['2', 'pair-1', '(b)'],
      ['3', 'pair-2', '(b)'],
      ['4', 'pair-2', '(a)'],
    ]);
    expect(s.items[0]).toMatchObject({
      question: 'Is the door open, or closed?',
      image: path.join(d, 'MMVP Images', '1.png'),
      options: [
        { letter: 'a', text: 'Open' },
        { letter: 'b', text: 'Closed' },
      ],
    });
  });

  it('reports a bad header, bad options, a wrong answer letter and a missing image by line', () => {
    expect(errorOf(() => loadSuite(mmvp('Index,Question\n1,q\n'))).message).toMatch(/Questions\.csv:1: header lacks Options, Correct Answer/);
    const e = errorOf(() => loadSuite(mmvp('Index,Question,Options,Correct Answer\n1,q,just text,(a)\n2,q,(a) x (b) y,(c)\n9,q,(a) x (b) y,(a)\n')));
    expect(e.message).toContain('Questions.csv:2: Options "just text" is not of the form "(a) … (b) …"');
    expect(e.message).toContain('Questions.csv:3: Correct Answer "(c)" names no option');
    expect(e.message).toMatch(/Questions\.csv:4: no image 9\.jpg\/\.png\/\.webp in .*MMVP Images/);
  });
});

describe('built-in suite names', () => {
  it('resolves NAME to <pack>/suites/NAME.jsonl and lists the available ones otherwise', () => {
    const pack = tmp();
    fs.mkdirSync(path.join(pack, 'suites'));
    fs.copyFileSync(SAMPLE, path.join(pack, 'suites', 'x.png'));
    fs.writeFileSync(path.join(pack, 'suites', 'mini-test.jsonl'), '{"id": "a", "image": "x.png", "question": "q", "answer": "1"}\n');
    expect(loadSuite('mini-test', { packDir: pack }).items).toHaveLength(1);
    const e = errorOf(() => loadSuite('mini-nope', { packDir: pack }));
    expect(e.message).toMatch(/Suite "mini-nope" not found/);
    expect((e as { hint?: string }).hint).toBe('Built-in suites of this pack: mini-test');
  });
});
