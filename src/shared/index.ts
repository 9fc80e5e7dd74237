export * from './errors.js';
export * from './manifest.js';
export * from './contract.js';
export * from './protocol.js';
