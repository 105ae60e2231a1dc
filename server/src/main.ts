export { startServer, type RunningServer } from './daemon/daemon.js';
export { resolveConfig, loadConfigFile, defaultConfig, ConfigSchema, ConfigError, DEFAULT_PORT, type ServerConfig } from './config.js';
export { createLogger } from './log.js';
export { SERVER_VERSION } from './version.js';
