import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { availableMemory, cgroupAvailable } from '../../../src/engine/importers/memory-estimate.js';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'twinlens-cgroup-'));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

function tree(files: Record<string, string>): string {
  const d = fs.mkdtempSync(path.join(dir, 'cg-'));
  for (const [f, v] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(d, f)), { recursive: true });
    fs.writeFileSync(path.join(d, f), v + '\n');
  }
  return d;
}

describe('memory guard under a cgroup limit', () => {
  it('reads cgroup v2 limit minus usage', () => {
    expect(cgroupAvailable(tree({ 'memory.max': String(4 * 2 ** 30), 'memory.current': String(2 ** 30) }))).toBe(3 * 2 ** 30);
  });

  it('treats "max" and the v1 no-limit sentinel as no limit, and reads v1 limits', () => {
    expect(cgroupAvailable(tree({ 'memory.max': 'max', 'memory.current': '5' }))).toBeUndefined();
    expect(cgroupAvailable(tree({ 'memory/memory.limit_in_bytes': '9223372036854771712', 'memory/memory.usage_in_bytes': '5' }))).toBeUndefined();
    expect(cgroupAvailable(tree({ 'memory/memory.limit_in_bytes': '2000', 'memory/memory.usage_in_bytes': '500' }))).toBe(1500);
    expect(cgroupAvailable(path.join(dir, 'nothing-here'))).toBeUndefined();
  });

  it('never plans with more than the OS reports, and honours TWINLENS_MEMORY_LIMIT', () => {
    expect(availableMemory()).toBeLessThanOrEqual(os.freemem() + 64 * 2 ** 20);
    process.env.TWINLENS_MEMORY_LIMIT = '12345';
    try {
      expect(availableMemory()).toBe(12345);
    } finally {
      delete process.env.TWINLENS_MEMORY_LIMIT;
    }
  });
});
