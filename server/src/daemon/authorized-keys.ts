import { constants, type Stats } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { readRegularText } from '../common/bounded-file.js';
import { MAX_AUTHORIZED_KEYS_BYTES, parseAuthorizedKeys } from '../common/authorized-keys.js';
import type { Account } from './accounts.js';

/** authorizedKeysPath()'s components below the home directory, walked one by one. */
const keyDirectories = ['.config', 'spyder-remote'];
const keyFile = 'authorized_keys';

/**
 * Reads a user's authorized keys as root, with rules in the manner of
 * OpenSSH's StrictModes: a regular file owned by the user and writable by
 * nobody else, in a directory writable by nobody else, every directory from
 * home down owned by the user or root. Any failure reads as "no keys".
 *
 * What matters is that only the user (or root) chose the keys: the file's
 * owner and mode say so, and nobody else can make a file the user owns.
 * Others who could write a directory further up (a group-writable ~/.config)
 * could only shuffle the user's own files around, so for those the owner is
 * checked and the mode is not, as before.
 *
 * Everything below the home directory is the user's to change, so no path
 * into it is trusted. Node has no openat(), but on Linux
 * `/proc/self/fd/<n>/<name>` resolves `name` in the very directory that
 * descriptor n holds, which is openat(n, name): each component is opened that
 * way with O_NOFOLLOW (a directory also with O_DIRECTORY) and judged by
 * fstat on its own descriptor. A symlink anywhere below home is refused, and
 * swapping a component after it was checked changes nothing: the next step
 * starts from the descriptor, not the name. The home directory itself comes
 * from the account database, and its parent is root's.
 *
 * Elsewhere (macOS, only personal mode, where the daemon is the user) the
 * components are opened by path, still each with O_NOFOLLOW and judged on
 * its descriptor. Should the user swap a directory in between, what is read
 * is still a regular file of the user's, writable by nobody else: content
 * only the user or root wrote, which is what the checks are for.
 */
export async function readAuthorizedKeys(account: Account): Promise<string[]> {
	const opened: FileHandle[] = [];
	try {
		let directory = await openDirectory(account.home, true);
		opened.push(directory.handle);
		for (const name of keyDirectories) {
			if (!isOwnedBy(directory.stat, account.uid)) return [];
			directory = await openDirectory(within(directory, name), false);
			opened.push(directory.handle);
		}
		if (!isOwnedBy(directory.stat, account.uid) || (directory.stat.mode & 0o022) !== 0) return [];
		const text = await readRegularText(within(directory, keyFile), {
			maxBytes: MAX_AUTHORIZED_KEYS_BYTES,
			followSymlink: false,
			refuse: (stat) => (stat.uid !== account.uid ? 'not owned by the user' : (stat.mode & 0o022) !== 0 ? 'writable by others' : undefined),
		});
		return parseAuthorizedKeys(text).map((key) => key.publicKey);
	} catch {
		return [];
	} finally {
		await Promise.all(opened.map((handle) => handle.close()));
	}
}

interface OpenDirectory {
	readonly handle: FileHandle;
	readonly stat: Stats;
	readonly path: string;
}

async function openDirectory(path: string, followSymlink: boolean): Promise<OpenDirectory> {
	const handle = await open(path, constants.O_RDONLY | constants.O_DIRECTORY | constants.O_NONBLOCK | (followSymlink ? 0 : constants.O_NOFOLLOW));
	try {
		return { handle, stat: await handle.stat(), path };
	} catch (error) {
		await handle.close();
		throw error;
	}
}

function within(directory: OpenDirectory, name: string): string {
	return process.platform === 'linux' ? `/proc/self/fd/${directory.handle.fd}/${name}` : join(directory.path, name);
}

function isOwnedBy(stat: Stats, uid: number): boolean {
	return stat.uid === uid || stat.uid === 0;
}
