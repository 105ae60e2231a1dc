import { homedir } from 'node:os';
import { join } from 'node:path';

/**
 * Where the client keeps its key pair and known hosts:
 * $SPYDER_REMOTE_CONFIG_DIR, else $XDG_CONFIG_HOME/spyder-remote, else ~/.config/spyder-remote.
 */
export function clientConfigDir(): string {
	if (process.env.SPYDER_REMOTE_CONFIG_DIR) return process.env.SPYDER_REMOTE_CONFIG_DIR;
	return join(process.env.XDG_CONFIG_HOME || join(homedir(), '.config'), 'spyder-remote');
}
