// Lint, and the architecture's dependency direction (DESIGN.md §3) as rules:
// shared ← engine ← host ← (main | server | cli), and main, server and cli never
// import one another (what two hosts share lives in src/host); the renderer and
// preload see only shared; onnxruntime-node is imported by src/engine/onnx alone.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

const up = (dirs) => dirs.flatMap((d) => [`../${d}/*`, `../../${d}/*`, `../../../${d}/*`, `../${d}`, `../../${d}`]);
const restrict = (patterns, paths = []) => ({
  'no-restricted-imports': [
    'error',
    { patterns: patterns.map((group) => ({ group: [group], message: 'Breaks the dependency direction in DESIGN.md §3' })), paths },
  ],
});
const noOrt = { name: 'onnxruntime-node', message: 'Only src/engine/onnx may import onnxruntime-node' };
const nodeBuiltins = ['fs', 'path', 'child_process', 'os', 'crypto', 'http', 'net']
  .flatMap((m) => [m, `node:${m}`])
  .map((name) => ({ name, message: 'The renderer runs sandboxed: talk to the engine through the contract' }));

export default tseslint.config(
  { ignores: ['.venv/**', 'dist/**', 'out/**', 'release/**', 'node_modules/**', 'training/**', 'test/fixtures/**', 'playwright-report/**', 'test-results/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: {
      globals: {
        process: 'readonly',
        console: 'readonly',
        Buffer: 'readonly',
        setTimeout: 'readonly',
        clearTimeout: 'readonly',
        setInterval: 'readonly',
        clearInterval: 'readonly',
        performance: 'readonly',
        URL: 'readonly',
        window: 'readonly',
        document: 'readonly',
      },
    },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/no-non-null-assertion': 'off',
      'no-empty': ['error', { allowEmptyCatch: true }],
    },
  },
  {
    files: ['src/shared/**/*.ts'],
    rules: restrict(up(['engine', 'host', 'main', 'server', 'cli', 'renderer', 'preload']), [
      noOrt,
      { name: 'electron', message: 'shared is pure TypeScript' },
    ]),
  },
  {
    files: ['src/engine/**/*.ts'],
    ignores: ['src/engine/onnx/**'],
    rules: restrict(up(['host', 'main', 'server', 'cli', 'renderer', 'preload']), [noOrt, { name: 'electron', message: 'The engine runs without Electron' }]),
  },
  {
    files: ['src/engine/onnx/**/*.ts'],
    rules: restrict(up(['host', 'main', 'server', 'cli', 'renderer', 'preload']), [{ name: 'electron', message: 'The engine runs without Electron' }]),
  },
  {
    files: ['src/host/**/*.ts'],
    rules: restrict(up(['main', 'server', 'cli', 'renderer', 'preload']), [
      noOrt,
      { name: 'electron', message: 'The host layer serves the CLI and the web server too: Electron only in src/main' },
    ]),
  },
  { files: ['src/main/**/*.ts'], rules: restrict(up(['server', 'cli', 'renderer', 'preload']), [noOrt]) },
  { files: ['src/server/**/*.ts'], rules: restrict(up(['main', 'cli', 'renderer', 'preload']), [noOrt]) },
  // cli → server is allowed: `twinlens serve` starts the web server (a dynamic import, so only the CLI pays for ws).
  { files: ['src/cli/**/*.ts'], rules: restrict(up(['main', 'renderer', 'preload']), [noOrt]) },
  {
    files: ['src/renderer/**/*.{ts,tsx}'],
    rules: restrict(up(['engine', 'host', 'main', 'server', 'cli', 'preload']), [
      noOrt,
      { name: 'electron', message: 'Use the preload bridge' },
      ...nodeBuiltins,
    ]),
  },
  { files: ['src/preload/**/*.ts'], rules: restrict(up(['engine', 'host', 'main', 'server', 'cli', 'renderer']), [noOrt]) },
  { files: ['test/**/*.ts'], rules: { '@typescript-eslint/no-explicit-any': 'off' } },
);
