import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { defineConfig } from 'vitest/config';

// Evaluation journals (engine/eval/evaluate.ts) go to a fresh folder per test run, never the user's cache:
// a journal left by an earlier run would make an evaluation resume instead of running.
const evalRuns = fs.mkdtempSync(path.join(os.tmpdir(), 'twinlens-test-eval-runs-'));

export default defineConfig({
  test: {
    include: ['test/unit/**/*.test.ts', 'test/integration/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // ONNX Runtime sessions are heavy; two cores on CI.
    maxWorkers: 2,
    pool: 'forks',
    env: { TWINLENS_EVAL_RUNS: evalRuns },
  },
});
