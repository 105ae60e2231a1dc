export * from './frame-decoder.js';
export * from './json-nesting.js';
export * from './stream-transport.js';
export * from './fingerprint.js';
export * from './splice.js';
