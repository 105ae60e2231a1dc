export * from './version.js';
export * from './errors.js';
export * from './schema.js';
export * from './messages.js';
export * from './lifecycle.js';
export * from './auth.js';
export * from './session.js';
export * from './registry.js';
