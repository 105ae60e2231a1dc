import { chmod, mkdir, rename, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { RegisterKeyParams, RegisterKeyResult } from '@spyder-remote/protocol';
import { fingerprintOf } from '@spyder-remote/protocol/node';
import { KeyedLock } from './key-lock.js';
import { readRegularText } from '../common/bounded-file.js';
import { authorizedKeysPath, formatAuthorizedKey, MAX_AUTHORIZED_KEYS_BYTES, parseAuthorizedKeys } from '../common/authorized-keys.js';

/**
 * Adds a key to the user's authorized keys file with the modes the daemon's
 * strict check requires (directory 0700, file 0600). Runs as the user, so it
 * can touch nothing the user could not. The file is replaced atomically.
 */
const fileLock = new KeyedLock();

/** Several connections of the user may register at once: the read-modify-write must not interleave. */
export function registerKey(home: string, params: RegisterKeyParams): Promise<RegisterKeyResult> {
	return fileLock.run(authorizedKeysPath(home), () => addKey(home, params));
}

async function addKey(home: string, params: RegisterKeyParams): Promise<RegisterKeyResult> {
	const path = authorizedKeysPath(home);
	const fingerprint = fingerprintOf(Buffer.from(params.publicKey, 'base64'));
	await mkdir(dirname(path), { recursive: true, mode: 0o700 });
	// The daemon ignores keys in a directory others can write; make sure this one qualifies.
	await chmod(dirname(path), 0o700);
	let current = '';
	try {
		// Non-blocking and bounded: a FIFO put there must fail the request, not hang the host.
		current = await readRegularText(path, { maxBytes: MAX_AUTHORIZED_KEYS_BYTES, followSymlink: true });
	} catch (error) {
		if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
	}
	if (parseAuthorizedKeys(current).some((key) => key.publicKey === params.publicKey)) return { fingerprint, added: false };
	const next = `${current}${current && !current.endsWith('\n') ? '\n' : ''}${formatAuthorizedKey(params.publicKey, params.comment)}`;
	if (Buffer.byteLength(next) > MAX_AUTHORIZED_KEYS_BYTES) throw new Error('the authorized keys file is full');
	const temporary = `${path}.${process.pid}.tmp`;
	await writeFile(temporary, next, { mode: 0o600 });
	await rename(temporary, path);
	return { fingerprint, added: true };
}
