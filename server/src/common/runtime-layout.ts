import { join } from 'node:path';

/**
 * A user's runtime directory: `<runtimeDir>/sessions/<uid>/`, or the runtime
 * directory itself in personal mode. It holds the session host's socket and
 * one directory per kernel, for the sockets, the connection file and the
 * kernel's record.
 */

/** A session host's socket: a fresh random name per host. */
export const HOST_SOCKET_NAME = /^host-[0-9a-f]+\.sock$/;

/** Where the kernels' directories (`<id>/`) are. */
export function kernelsDirectory(runtimeDirectory: string): string {
	return join(runtimeDirectory, 'kernels');
}

/** A kernel's connection file, in its directory. */
export function connectionFileIn(kernelDirectory: string): string {
	return join(kernelDirectory, 'connection.json');
}

/** A kernel's directory is named by its id: 16 hex digits. */
export const KERNEL_ID = /^[0-9a-f]{16}$/;

/** What the session host records about a kernel, so that the user's next host can adopt it. */
export function kernelRecordIn(kernelDirectory: string): string {
	return join(kernelDirectory, 'record.json');
}
