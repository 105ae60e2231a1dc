export { startServer, type RunningServer } from './daemon/daemon.js';
export { resolveConfig, loadConfigFile, defaultConfig, ConfigSchema, ConfigError, type ServerConfig } from './daemon/config.js';
export { createLogger } from './common/log.js';
export { SERVER_VERSION } from './common/version.js';
export { runsAsRoot } from './common/privilege.js';
