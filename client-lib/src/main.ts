export { connect, RemoteSession, DEFAULT_PORT, type ConnectOptions, type HostInfo } from './session.js';
export { KnownHosts, hostKey } from './known-hosts.js';
export { discover, Discovery, type DiscoverOptions, type DiscoveredServer, type DiscoveryEvent } from './discovery.js';
export { loadKeyPair, loadOrCreateKeyPair, defaultKeyFile, keyFingerprint, publicKeyText, type KeyPair } from './keys.js';
export { KernelForwarder, jupyterRuntimeDir, type ForwarderOptions } from './forwarder.js';
export { RemoteError, HostKeyMismatchError, UnknownHostError } from './errors.js';
export { clientConfigDir } from './paths.js';
export { configuredHosts, hostsFile, type ConfiguredHost } from './hosts.js';
export { ErrorCodes } from '@spyder-remote/protocol';
