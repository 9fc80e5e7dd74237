// Runs an engine entry the way Electron's utilityProcess would: with a
// `process.parentPort` whose 'message' events carry `{data}`, backed here by
// Node's IPC channel. argv: <entry> [engine args…].
import { pathToFileURL } from 'node:url';

const entry = process.argv[2];
const listeners = [];
process.parentPort = {
  postMessage: (m) => process.connected && process.send(m),
  on: (event, cb) => {
    if (event === 'message') listeners.push(cb);
  },
};
process.on('message', (data) => listeners.forEach((cb) => cb({ data })));
// Like a utility process, go away with the parent.
process.on('disconnect', () => process.exit(0));
await import(pathToFileURL(entry).href);
