/** Reading what a user put in their home: bounded, never hanging, and telling missing from refused. */
import { constants } from 'node:fs';
import { access, readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { readRegularText } from '../../../common/bounded-file.js';

/** environments.txt, .condarc, pyvenv.cfg, patchlevel.h: a few KiB at most when genuine. */
const USER_FILE_BYTES = 1024 * 1024;

/**
 * Every file discovery reads is the user's to make: a FIFO must not hang
 * the host, nor a huge file bloat it. Links are followed, as Python and conda
 * follow them; the host reads as the user, so a link leads nowhere new.
 */
export function readUserFile(path: string): Promise<string> {
	return readRegularText(path, { maxBytes: USER_FILE_BYTES, followSymlink: true });
}

export async function subdirectoriesOf(directory: string): Promise<string[]> {
	const entries = await readdir(directory).catch(() => []);
	return entries.map((entry) => join(directory, entry));
}

export async function exists(path: string): Promise<boolean> {
	return stat(path).then(
		() => true,
		() => false,
	);
}

export async function isDirectory(path: string): Promise<boolean> {
	return stat(path).then(
		(stats) => stats.isDirectory(),
		() => false,
	);
}

export async function isWritable(path: string): Promise<boolean> {
	return access(path, constants.W_OK).then(
		() => true,
		() => false,
	);
}

export function errorCode(error: unknown): string | undefined {
	return (error as NodeJS.ErrnoException).code;
}

export function isMissing(error: unknown): boolean {
	return errorCode(error) === 'ENOENT' || errorCode(error) === 'ENOTDIR';
}
