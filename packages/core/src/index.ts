export * from './runtime.js';
export * from './engines/tfjs.js';
export * from './engines/tfjs-backend.js';
export * from './engines/select.js';
