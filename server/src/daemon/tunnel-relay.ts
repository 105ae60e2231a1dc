import type { Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import type { Logger } from '../log.js';

/** The first line of a tunnel connection: `<uid>.<32 base64url characters of secret>`. */
const tokenLine = /^(\d{1,10})\.[A-Za-z0-9_-]{32}$/;
const maxLineBytes = 128;

/**
 * The daemon's whole part in a kernel tunnel: read one bounded line, take
 * the uid from it, and splice the connection to that user's running session
 * host, which alone can judge the token. Nothing else is parsed, and no
 * session host is started for a tunnel.
 */
export function relayTunnel(socket: TLSSocket, connectHost: (uid: number) => Promise<Socket | undefined>, onAccepted: () => void, logger: Logger): void {
	let buffered = Buffer.alloc(0);
	const onData = (chunk: Buffer) => {
		buffered = Buffer.concat([buffered, chunk]);
		const newline = buffered.indexOf(0x0a);
		if (newline === -1) {
			if (buffered.length > maxLineBytes) refuse('tunnel line too long');
			return;
		}
		socket.off('data', onData);
		socket.pause();
		const token = buffered.subarray(0, newline).toString('latin1');
		const match = tokenLine.exec(token);
		if (!match) return refuse('malformed tunnel token');
		void connectHost(Number(match[1])).then(
			(host) => {
				if (!host) return refuse('no session host for that token');
				onAccepted();
				host.write(`TUNNEL ${token}\n`);
				const rest = buffered.subarray(newline + 1);
				if (rest.length > 0) host.write(rest);
				socket.setNoDelay(true);
				socket.pipe(host);
				host.pipe(socket);
				socket.resume();
				const closeBoth = () => {
					socket.destroy();
					host.destroy();
				};
				for (const stream of [socket, host]) {
					stream.once('close', closeBoth);
					stream.on('error', () => undefined);
				}
			},
			() => refuse('session host unreachable'),
		);
	};
	const refuse = (reason: string) => {
		logger.info({ reason }, 'tunnel refused');
		socket.destroy();
	};
	socket.on('data', onData);
}
