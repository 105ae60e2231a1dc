import type { Socket } from 'node:net';

/**
 * Reads one `\n`-terminated line of at most `maxBytes` from a socket, then
 * leaves the socket paused with what followed the line in `rest`. Resolves
 * undefined when the line is too long or the socket ends first: the caller
 * closes. Tunnel connections start this way, on both sides of the daemon.
 */
export function readFirstLine(socket: Socket, maxBytes: number): Promise<{ line: string; rest: Buffer } | undefined> {
	return new Promise((resolve) => {
		let buffered = Buffer.alloc(0);
		const finish = (result: { line: string; rest: Buffer } | undefined) => {
			socket.off('data', onData);
			socket.off('close', onClose);
			socket.pause();
			resolve(result);
		};
		const onData = (chunk: Buffer) => {
			buffered = Buffer.concat([buffered, chunk]);
			const newline = buffered.indexOf(0x0a);
			if (newline === -1) {
				if (buffered.length > maxBytes) finish(undefined);
				return;
			}
			finish(newline > maxBytes ? undefined : { line: buffered.subarray(0, newline).toString('latin1'), rest: buffered.subarray(newline + 1) });
		};
		const onClose = () => finish(undefined);
		socket.on('data', onData);
		socket.once('close', onClose);
		socket.resume();
	});
}
