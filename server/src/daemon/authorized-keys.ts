import { constants } from 'node:fs';
import { lstat, open } from 'node:fs/promises';
import { dirname } from 'node:path';
import { authorizedKeysPath, MAX_AUTHORIZED_KEYS_BYTES, parseAuthorizedKeys } from '../common/authorized-keys.js';
import type { Account } from './accounts.js';

/**
 * Reads a user's authorized keys as root, with OpenSSH's StrictModes rules:
 * no symlink as the last component, a regular file owned by the user and
 * writable by nobody else, in a directory only the user (or root) can write.
 * The checks use the opened descriptor, so swapping the file after the check
 * does not help. FIFOs and devices are opened non-blocking and then refused.
 * Any failure reads as "no keys".
 */
export async function readAuthorizedKeys(account: Account): Promise<string[]> {
	const path = authorizedKeysPath(account.home);
	try {
		const directory = await lstat(dirname(path));
		if (!directory.isDirectory() || (directory.uid !== account.uid && directory.uid !== 0) || (directory.mode & 0o022) !== 0) return [];
		const handle = await open(path, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK | constants.O_NOCTTY);
		try {
			const stat = await handle.stat();
			if (!stat.isFile() || stat.uid !== account.uid || (stat.mode & 0o022) !== 0 || stat.size > MAX_AUTHORIZED_KEYS_BYTES) return [];
			const buffer = Buffer.alloc(stat.size);
			const { bytesRead } = await handle.read(buffer, 0, stat.size, 0);
			return parseAuthorizedKeys(buffer.toString('utf8', 0, bytesRead)).map((key) => key.publicKey);
		} finally {
			await handle.close();
		}
	} catch {
		return [];
	}
}
