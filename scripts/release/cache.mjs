/**
 * Where release builds keep what is slow to make again: the machine-wide test cache when it can
 * be written (root, as the tests and CI run), else the user's own cache.
 */
import { accessSync, constants, mkdirSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';

const machineCache = '/var/cache/spyder-remote-tests';

export function cacheDirectory() {
	if (process.env.SPYDER_REMOTE_CACHE) return process.env.SPYDER_REMOTE_CACHE;
	try {
		mkdirSync(machineCache, { recursive: true });
		accessSync(machineCache, constants.W_OK);
		return join(machineCache, 'release');
	} catch {
		return join(homedir(), '.cache', 'spyder-remote');
	}
}
