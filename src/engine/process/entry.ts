/**
 * Entry point of the engine process. Started by EngineClient as a Node child
 * process (`fork`, structured-clone IPC) or by Electron's utilityProcess
 * (`process.parentPort`). Arguments: --pack DIR, --provider NAME, --cache-dir DIR.
 */
import type { ToEngine, FromEngine } from '../../shared/protocol.js';
import type { ProviderChoice } from '../onnx/providers.js';
import { EngineService } from './service.js';

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

interface ParentPort {
  postMessage(msg: unknown): void;
  on(event: 'message', cb: (e: { data: unknown }) => void): void;
}

const parentPort = (process as unknown as { parentPort?: ParentPort }).parentPort;

const send: (msg: FromEngine) => void = parentPort
  ? (msg) => parentPort.postMessage(msg)
  : (msg) => {
      if (process.send && process.connected) process.send(msg);
    };

const service = new EngineService(send, {
  packDir: arg('--pack'),
  provider: (arg('--provider') as ProviderChoice | undefined) ?? 'auto',
  cacheDir: arg('--cache-dir'),
});

if (parentPort) parentPort.on('message', (e) => service.handle(e.data as ToEngine));
else {
  process.on('message', (m) => service.handle(m as ToEngine));
  // The host went away: nothing left to serve.
  process.on('disconnect', () => void service.dispose().then(() => process.exit(0)));
}

void service.init();
