/**
 * How a host talks to the engine process. Two implementations share one
 * shape: a Node child process (CLI, web server, tests) and Electron's
 * utilityProcess (desktop app, created in src/main). Both use structured
 * clone, so typed arrays cross without JSON.
 */
import { fork } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FromEngine, ToEngine } from '../shared/protocol.js';

export interface EngineTransport {
  readonly pid: number | undefined;
  send(msg: ToEngine): void;
  onMessage(cb: (msg: FromEngine) => void): void;
  onExit(cb: (code: number | null, signal: string | null) => void): void;
  kill(signal?: NodeJS.Signals): void;
}

export interface EngineLaunch {
  packDir?: string;
  provider?: string;
  cacheDir?: string;
}

export function engineArgs(launch: EngineLaunch): string[] {
  const args: string[] = [];
  if (launch.packDir) args.push('--pack', launch.packDir);
  if (launch.provider) args.push('--provider', launch.provider);
  if (launch.cacheDir) args.push('--cache-dir', launch.cacheDir);
  return args;
}

/** The engine entry (engine/process/entry): compiled .js in dist/, or .ts run through tsx in development and tests. */
export function engineEntry(): { file: string; execArgv: string[] } {
  const dir = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'engine', 'process');
  const js = path.join(dir, 'entry.js');
  if (fs.existsSync(js)) return { file: js, execArgv: [] };
  return { file: path.join(dir, 'entry.ts'), execArgv: ['--import', tsxLoader()] };
}

/**
 * tsx's loader as a file URL: a bare `--import tsx` is resolved from the working directory, so
 * `twinlens` run from any other folder started an engine that died with "Cannot find package 'tsx'".
 */
function tsxLoader(): string {
  try {
    return import.meta.resolve('tsx');
  } catch {
    return 'tsx'; // a host without import.meta.resolve (a test transform): the working directory is the checkout
  }
}

export function forkNodeEngine(launch: EngineLaunch): EngineTransport {
  const entry = engineEntry();
  const child = fork(entry.file, engineArgs(launch), {
    serialization: 'advanced',
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    execArgv: [...entry.execArgv, '--max-old-space-size=8192'],
    env: { ...process.env, TWINLENS_ENGINE: '1' },
  });
  return {
    get pid() {
      return child.pid;
    },
    send(msg) {
      if (child.connected) child.send(msg);
    },
    onMessage(cb) {
      child.on('message', (m) => cb(m as FromEngine));
    },
    onExit(cb) {
      child.on('exit', (code, signal) => cb(code, signal));
    },
    kill(signal = 'SIGTERM') {
      child.kill(signal);
    },
  };
}
