import { constants, type Stats } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';

/**
 * Reading a file that someone else controls. A FIFO would block open() and
 * read() for good, holding one of libuv's four pool threads, and a device or
 * a huge file would stall or bloat the reader. So the file is opened
 * non-blocking and without becoming a controlling terminal, its kind and
 * size are judged on the descriptor (so swapping the path afterwards does
 * not help), and at most `maxBytes` are read.
 */
export interface RegularFileOptions {
	readonly maxBytes: number;
	/**
	 * Whether the last component may be a symlink. The session host reads as
	 * the user, where a link only leads to what the user could read anyway
	 * (dotfile managers link .condarc, environments are linked). Root must not
	 * follow a user's link: it refuses them with O_NOFOLLOW.
	 */
	readonly followSymlink: boolean;
	/** A longer file yields its first `maxBytes` when set (headers are all that is needed); otherwise it is refused. */
	readonly truncate?: boolean;
	/** Further checks on the opened file's status: a reason to refuse it, or undefined. */
	readonly refuse?: (stat: Stats) => string | undefined;
}

export class RefusedFileError extends Error {
	override name = 'RefusedFileError';
	readonly code = 'EREFUSED';
}

/** The file's bytes, or a rejection: the open's own error (ENOENT, ELOOP for a refused link, …) or a RefusedFileError. */
export async function readRegularFile(path: string, options: RegularFileOptions): Promise<Buffer> {
	const handle = await openRegularFile(path, options.followSymlink);
	try {
		const stat = await handle.stat();
		const reason = stat.isFile() ? options.refuse?.(stat) : 'not a regular file';
		if (reason) throw new RefusedFileError(reason);
		return await readAtMost(handle, stat, options);
	} finally {
		await handle.close();
	}
}

export async function readRegularText(path: string, options: RegularFileOptions): Promise<string> {
	return (await readRegularFile(path, options)).toString('utf8');
}

/** Opened non-blocking, so that a FIFO opens at once instead of waiting for a writer; judged by the caller through the descriptor. */
function openRegularFile(path: string, followSymlink: boolean): Promise<FileHandle> {
	return open(path, constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOCTTY | (followSymlink ? 0 : constants.O_NOFOLLOW));
}

/**
 * Up to one byte past what fstat promised, so that a file that grew since is
 * noticed rather than taken in part (unless a prefix is all the caller wants).
 */
async function readAtMost(handle: FileHandle, stat: Stats, { maxBytes, truncate }: RegularFileOptions): Promise<Buffer> {
	if (stat.size > maxBytes && !truncate) throw new RefusedFileError(`larger than ${maxBytes} bytes`);
	const expected = Math.min(stat.size, maxBytes);
	const buffer = Buffer.alloc(expected + 1);
	let length = 0;
	while (length < buffer.length) {
		const { bytesRead } = await handle.read(buffer, length, buffer.length - length, length);
		if (bytesRead === 0) break;
		length += bytesRead;
	}
	if (length <= expected) return buffer.subarray(0, length);
	if (truncate) return buffer.subarray(0, expected);
	throw new RefusedFileError('changed while it was read');
}
