/**
 * The engine process in the desktop app: Electron's utilityProcess, the
 * Chromium-managed child made for exactly this (a Node process that is not
 * a renderer, killed with the app, with structured-clone messaging so typed
 * arrays cross without JSON). The engine entry (dist/engine/process/entry.js)
 * talks through `process.parentPort` when it finds one.
 *
 * This is the EngineTransport that EngineClient expects; restarts after a
 * crash are EngineClient's job, this only reports the exit.
 */
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { utilityProcess } from 'electron';
import type { FromEngine, ToEngine } from '../shared/protocol.js';
import { type EngineLaunch, type EngineTransport, engineArgs } from '../host/engine-transport.js';

/** dist/engine/process/entry.js, beside this compiled file's folder (inside app.asar when packaged). */
export function engineEntryFile(): string {
  return path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'engine', 'process', 'entry.js');
}

export function utilityProcessTransport(entry = engineEntryFile()): (launch: EngineLaunch) => EngineTransport {
  return (launch) => {
    const child = utilityProcess.fork(entry, engineArgs(launch), {
      serviceName: 'TwinLens engine',
      stdio: 'inherit',
      execArgv: ['--max-old-space-size=8192'],
      env: { ...process.env, TWINLENS_ENGINE: '1' },
    });
    // Messages sent before the process is up are queued, so a request never races the spawn.
    let spawned = false;
    let exited = false;
    let exitCode: number | null = null;
    const queue: ToEngine[] = [];
    child.once('spawn', () => {
      spawned = true;
      for (const m of queue.splice(0)) child.postMessage(m);
    });
    child.once('exit', (code: number) => {
      exited = true;
      exitCode = code;
    });
    return {
      get pid() {
        return child.pid;
      },
      send(msg) {
        if (exited) return;
        if (spawned) child.postMessage(msg);
        else queue.push(msg);
      },
      onMessage(cb) {
        child.on('message', (m: unknown) => cb(m as FromEngine));
      },
      onExit(cb) {
        // utilityProcess reports only a code; a kill shows up as a non-zero code.
        if (exited) cb(exitCode, null);
        else child.once('exit', (code: number) => cb(code, null));
      },
      kill() {
        if (!exited) child.kill();
      },
    };
  };
}
