/**
 * The bridge's own small protocol with the Spyder plugin: JSON-RPC 2.0 with
 * Content-Length framing over the bridge's stdin and stdout, defined once
 * here as data in the style of @spyder-remote/protocol. The README's tables
 * and the plugin's constants (python/spyder_remote/bridge_protocol.py) are
 * generated from it by scripts/generate-bridge-protocol.mjs.
 */
export * from './messages.js';
export * from './errors.js';
export * from './lifecycle.js';
export * from './discovery.js';
export * from './sessions.js';
export * from './environments.js';
export * from './kernels.js';
export * from './registry.js';
