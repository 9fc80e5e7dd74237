#!/usr/bin/env node
// `npm run package:check`: builds the Linux x64 unpacked desktop app with electron-builder against a
// stand-in Electron distribution (no Electron binary can be downloaded here), then checks the layout a
// user would install and prints the sizes:
//  - main, preload, renderer and the engine entry inside app.asar; no dev dependency inside it;
//  - onnxruntime-node and sharp natives unpacked, for linux-x64 only, and loading with plain Node
//    from an extracted copy of the asar beside the unpacked natives (as Electron resolves them);
//  - every production dependency importable from that copy;
//  - the built-in pack: every file the engine reads byte-identical to models/mini-world;
//  - Electron fuses flipped in the binary as electron-builder.yml asks (the stand-in carries a fuse wire);
//  - the app without Electron ≤ 100 MB.
// The stand-in is a shell script holding Electron's fuse sentinel; it cannot run the app.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import { createRequire } from 'node:module';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(import.meta.url);
const asar = require('@electron/asar');
const yaml = require('js-yaml');

const ELECTRON_VERSION = JSON.parse(fs.readFileSync(path.join(ROOT, 'node_modules', 'electron', 'package.json'), 'utf8')).version;
const SENTINEL = 'dL7pKGdnNz796PbbjQWNKmHXBZaB9tsX';
// Electron's fuse wire v1 as shipped: RunAsNode, CookieEncryption, NodeOptions, NodeCliInspect,
// EmbeddedAsarIntegrity, OnlyLoadAppFromAsar, BrowserV8Snapshot, FileProtocolExtraPrivileges, WasmTrapHandlers.
const FUSES = [
  'runAsNode',
  'enableCookieEncryption',
  'enableNodeOptionsEnvironmentVariable',
  'enableNodeCliInspectArguments',
  'enableEmbeddedAsarIntegrityValidation',
  'onlyLoadAppFromAsar',
  'loadBrowserProcessSpecificV8Snapshot',
  'grantFileProtocolExtraPrivileges',
  'enableWasmTrapHandlers',
];
const SHIPPED_WIRE = '101001011';
const LIMIT_MB = 100;

const failures = [];
const check = (ok, what) => {
  console.log(`${ok ? '✓' : '✗'} ${what}`);
  if (!ok) failures.push(what);
};
const mb = (bytes) => (bytes / 1e6).toFixed(1);
function sizeOf(p) {
  const st = fs.lstatSync(p);
  if (!st.isDirectory()) return st.size;
  return fs.readdirSync(p).reduce((n, f) => n + sizeOf(path.join(p, f)), 0);
}
const sha = (p) => createHash('sha256').update(fs.readFileSync(p)).digest('hex');

function standIn(dir) {
  fs.rmSync(dir, { recursive: true, force: true });
  fs.mkdirSync(path.join(dir, 'locales'), { recursive: true });
  fs.mkdirSync(path.join(dir, 'resources'));
  const wire = Buffer.concat([Buffer.from(SENTINEL), Buffer.from([1, SHIPPED_WIRE.length]), Buffer.from(SHIPPED_WIRE)]);
  const script = Buffer.concat([
    Buffer.from('#!/bin/sh\n# TwinLens packaging stand-in for the Electron binary (no Chromium inside).\n# fuse wire: '),
    wire,
    Buffer.from("\necho 'electron stand-in: cannot run the app' >&2\nexit 1\n"),
  ]);
  fs.writeFileSync(path.join(dir, 'electron'), script, { mode: 0o755 });
  fs.writeFileSync(path.join(dir, 'version'), ELECTRON_VERSION);
  fs.writeFileSync(path.join(dir, 'LICENSE'), 'Electron stand-in\n');
  fs.writeFileSync(path.join(dir, 'LICENSES.chromium.html'), '<html></html>\n');
  fs.writeFileSync(path.join(dir, 'locales', 'en-US.pak'), Buffer.alloc(1));
}

const work = fs.mkdtempSync(path.join(os.tmpdir(), 'twinlens-package-'));
const dist = path.join(work, 'electron-dist');
const out = path.join(work, 'release');
try {
  if (!fs.existsSync(path.join(ROOT, 'dist', 'main', 'main.js'))) execFileSync('npm', ['run', 'build'], { cwd: ROOT, stdio: 'inherit' });
  standIn(dist);
  execFileSync(
    process.execPath,
    [
      path.join(ROOT, 'node_modules', 'electron-builder', 'cli.js'),
      '--linux',
      'dir',
      '--x64',
      '--publish',
      'never',
      `-c.electronDist=${dist}`,
      `-c.electronVersion=${ELECTRON_VERSION}`,
      `-c.directories.output=${out}`,
    ],
    { cwd: ROOT, stdio: ['ignore', 'inherit', 'inherit'] },
  );
  const app = path.join(out, 'linux-unpacked');
  const resources = path.join(app, 'resources');
  const appAsar = path.join(resources, 'app.asar');
  const unpacked = path.join(resources, 'app.asar.unpacked');
  const files = new Set(asar.listPackage(appAsar).map((f) => f.replace(/\\/g, '/')));

  // 1. the code inside app.asar
  for (const f of ['/dist/main/main.js', '/dist/preload/preload.cjs', '/dist/renderer/index.html', '/dist/engine/process/entry.js', '/package.json'])
    check(files.has(f), `app.asar holds ${f}`);
  const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8'));
  const devOnly = Object.keys(pkg.devDependencies).filter((d) => !pkg.dependencies[d]);
  const shippedDev = devOnly.filter((d) => files.has(`/node_modules/${d}/package.json`));
  check(shippedDev.length === 0, `no dev dependency in app.asar${shippedDev.length ? ` (found ${shippedDev.join(', ')})` : ''}`);
  check(![...files].some((f) => f.endsWith('.map') || f.endsWith('.d.ts')), 'no source maps or type declarations in app.asar');

  // 2. natives: unpacked, linux-x64 only
  const natives = fs
    .readdirSync(unpacked, { recursive: true })
    .map(String)
    .filter((f) => /\.(node|so(\.\d+)*)$/.test(f));
  check(
    natives.some((f) => f.includes(path.join('onnxruntime-node', 'bin')) && f.includes(path.join('linux', 'x64'))),
    'onnxruntime-node linux-x64 binding unpacked',
  );
  check(
    natives.some((f) => f.includes('sharp-linux-x64')),
    'sharp linux-x64 binding unpacked',
  );
  const foreign = natives.filter((f) => /(darwin|win32|arm64|linux-arm|linuxmusl)/.test(f));
  check(foreign.length === 0, `no native binary of another platform or arch${foreign.length ? ` (found ${foreign.slice(0, 4).join(', ')})` : ''}`);

  // 3. production modules import with plain Node from an extracted asar + the unpacked natives
  const extracted = path.join(work, 'extracted');
  asar.extractAll(appAsar, extracted);
  fs.cpSync(unpacked, extracted, { recursive: true });
  const load = (spec) =>
    execFileSync(process.execPath, ['--input-type=module', '-e', spec], { cwd: extracted, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  try {
    const r = load(
      "const ort = await import('onnxruntime-node'); const sharp = (await import('sharp')).default; const png = await sharp({ create: { width: 4, height: 4, channels: 3, background: '#f00' } }).png().toBuffer(); console.log(typeof ort.InferenceSession.create, png.length > 0);",
    );
    check(r.trim() === 'function true', 'onnxruntime-node and sharp load from the package with plain Node (and sharp encodes a PNG)');
  } catch (e) {
    check(
      false,
      `onnxruntime-node and sharp load from the package: ${String(e.stderr ?? e)
        .split('\n')
        .slice(0, 3)
        .join(' ')}`,
    );
  }
  const bad = [];
  for (const dep of Object.keys(pkg.dependencies)) {
    try {
      load(`await import(${JSON.stringify(dep)});`);
    } catch (e) {
      bad.push(
        `${dep}: ${
          String(e.stderr ?? e)
            .split('\n')
            .find((l) => l.includes('Error')) ?? ''
        }`,
      );
    }
  }
  check(
    bad.length === 0,
    `every production dependency imports from the package (${Object.keys(pkg.dependencies).length})${bad.length ? `: ${bad.join('; ')}` : ''}`,
  );
  try {
    load(`await import(${JSON.stringify(pathToFileURL(path.join(extracted, 'dist', 'engine', 'engine.js')).href)});`);
    check(true, 'the engine module imports from the package');
  } catch (e) {
    check(
      false,
      `the engine module imports from the package: ${String(e.stderr ?? e)
        .split('\n')
        .slice(0, 3)
        .join(' ')}`,
    );
  }

  // 3b. the packaged main process: dist/main/main.js from the extracted asar, under the strict Electron
  // stand-in as a packaged app (isPackaged, resourcesPath = the package's read-only resources), --self-test:
  // the built-in pack answers one sample question in every mode. Run as nobody when root, so that the
  // root-owned resources really are read-only.
  {
    const asRoot = process.getuid?.() === 0;
    const home = path.join(work, 'home');
    fs.mkdirSync(home);
    fs.chmodSync(work, 0o755);
    if (asRoot) fs.chownSync(home, 65534, 65534);
    const node = [
      process.execPath,
      '--import',
      path.join(ROOT, 'test', 'e2e', 'electron-stub', 'register.mjs'),
      path.join(extracted, 'dist', 'main', 'main.js'),
      '--self-test',
    ];
    const cmd = asRoot ? ['setpriv', '--reuid', '65534', '--regid', '65534', '--clear-groups', ...node] : node;
    let line = '';
    try {
      const stdout = execFileSync(cmd[0], cmd.slice(1), {
        cwd: home,
        encoding: 'utf8',
        timeout: 180_000,
        stdio: ['ignore', 'pipe', 'pipe'],
        env: {
          PATH: process.env.PATH ?? '/usr/bin:/bin',
          HOME: home,
          XDG_CACHE_HOME: path.join(home, '.cache'),
          ELECTRON_STUB_STRICT: '1',
          ELECTRON_STUB_RESOURCES: resources,
          TWINLENS_USER_DATA: path.join(home, 'user-data'),
        },
      });
      line = stdout.trim().split('\n').at(-1) ?? '';
    } catch (e) {
      line =
        String(e.stdout ?? '')
          .trim()
          .split('\n')
          .at(-1) ||
        String(e.stderr ?? e)
          .split('\n')
          .slice(-3)
          .join(' ');
    }
    let r = {};
    try {
      r = JSON.parse(line);
    } catch {
      r = { ok: false, error: line };
    }
    const modes = Object.entries(r.answers ?? {})
      .map(([m, a]) => `${m} "${a.text}"`)
      .join(', ');
    check(
      r.ok === true && r.pack === 'mini-world',
      `packaged main.js --self-test${asRoot ? ' as nobody' : ''} on the read-only resources: ${r.ok ? `${r.question} → ${modes}` : r.error}`,
    );
  }

  // 4. the built-in pack
  const packSrc = path.join(ROOT, 'models', 'mini-world');
  const packDst = path.join(resources, 'mini-world');
  const tracked = execFileSync('git', ['ls-files', 'models/mini-world'], { cwd: ROOT, encoding: 'utf8' })
    .split('\n')
    .filter(Boolean)
    .map((f) => path.relative(packSrc, path.join(ROOT, f)));
  const needed = tracked.filter((f) => !/^eval.*\.json$/.test(f) && !f.endsWith('.results.jsonl'));
  const differ = needed.filter((f) => !fs.existsSync(path.join(packDst, f)) || sha(path.join(packDst, f)) !== sha(path.join(packSrc, f)));
  check(
    differ.length === 0,
    `built-in pack: ${needed.length} files byte-identical to models/mini-world${differ.length ? ` (differ or missing: ${differ.slice(0, 5).join(', ')})` : ''}`,
  );
  const extra = fs
    .readdirSync(packDst, { recursive: true })
    .map(String)
    .filter((f) => fs.statSync(path.join(packDst, f)).isFile() && !needed.includes(f));
  check(extra.length === 0, `built-in pack: nothing else shipped${extra.length ? ` (extra: ${extra.slice(0, 5).join(', ')})` : ''}`);

  // 5. fuses
  const bin = fs.readFileSync(path.join(app, 'twinlens'));
  const at = bin.indexOf(SENTINEL) + SENTINEL.length;
  const wire = bin.subarray(at + 2, at + 2 + bin[at + 1]).toString('latin1');
  const want = yaml.load(fs.readFileSync(path.join(ROOT, 'electron-builder.yml'), 'utf8')).electronFuses;
  const wrong = FUSES.filter((name, i) => name in want && wire[i] !== (want[name] ? '1' : '0'));
  check(wrong.length === 0, `fuses flipped as electron-builder.yml asks (wire ${wire})${wrong.length ? `: wrong ${wrong.join(', ')}` : ''}`);

  // 6. sizes
  const parts = { 'app.asar': sizeOf(appAsar), 'app.asar.unpacked': sizeOf(unpacked), 'mini-world': sizeOf(packDst) };
  const total = Object.values(parts).reduce((a, b) => a + b, 0);
  console.log('\npackage (linux x64, without Electron):');
  for (const [k, v] of Object.entries(parts)) console.log(`  ${k.padEnd(18)} ${mb(v).padStart(6)} MB`);
  for (const d of fs.readdirSync(path.join(unpacked, 'node_modules')))
    console.log(`    ${d.padEnd(16)} ${mb(sizeOf(path.join(unpacked, 'node_modules', d))).padStart(6)} MB`);
  console.log(`  ${'total'.padEnd(18)} ${mb(total).padStart(6)} MB (limit ${LIMIT_MB} MB)`);
  check(total <= LIMIT_MB * 1e6, `the app without Electron is ≤ ${LIMIT_MB} MB (${mb(total)} MB)`);
} finally {
  fs.rmSync(work, { recursive: true, force: true });
}
if (failures.length) {
  console.error(`\npackage:check failed: ${failures.length} check(s)`);
  process.exit(1);
}
console.log('\npackage:check passed');
