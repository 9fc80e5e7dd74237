/** Paths of the committed fixtures and helpers to read their golden values. */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { expect } from 'vitest';
import { decodeNpy } from '../../src/engine/export/npy.js';

export const ROOT = path.resolve(__dirname, '..', '..');
export const FIXTURES = path.join(ROOT, 'test', 'fixtures');
export const TINY = path.join(FIXTURES, 'packs', 'tiny');
export const TINY_FP16 = path.join(FIXTURES, 'packs', 'tiny-fp16');
export const SAMPLE = path.join(FIXTURES, 'images', 'sample.png');
export const SAMPLE_B = path.join(FIXTURES, 'images', 'sample-b.png');

export interface Tolerance {
  atol: number;
  rtol: number;
}

export function golden(pack: string): any {
  return JSON.parse(fs.readFileSync(path.join(pack, 'golden', 'golden.json'), 'utf8'));
}

export function npy(pack: string, file: string): { shape: number[]; data: Float32Array } {
  return decodeNpy(fs.readFileSync(path.join(pack, 'golden', file)));
}

/** Every element within atol + rtol·|expected|; reports the worst element. */
export function expectClose(actual: ArrayLike<number>, expected: ArrayLike<number>, tol: Tolerance, what: string): void {
  expect(actual.length, `${what}: length`).toBe(expected.length);
  let worst = 0;
  let at = -1;
  for (let i = 0; i < expected.length; i++) {
    const excess = Math.abs(actual[i] - expected[i]) - (tol.atol + tol.rtol * Math.abs(expected[i]));
    if (excess > worst) {
      worst = excess;
      at = i;
    }
  }
  expect(at, `${what}: element ${at} is ${actual[at]} vs golden ${expected[at]} (atol ${tol.atol}, rtol ${tol.rtol})`).toBe(-1);
}
