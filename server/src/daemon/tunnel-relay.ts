import type { Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { splice } from '@spyder-remote/protocol/node';
import { readFirstLine } from '../common/first-line.js';
import type { Logger } from '../common/log.js';
import { NotTheHostError } from './session-hosts.js';

/** The first line of a tunnel connection: `<uid>.<32 base64url characters of secret>`. */
const tokenLine = /^(\d{1,10})\.[A-Za-z0-9_-]{32}$/;
const maxLineBytes = 128;

/**
 * The daemon's whole part in a kernel tunnel: read one bounded line, take
 * the uid from it, and pass the line to that user's running session host,
 * which alone can judge the token. The host answers with the kernel socket
 * it connected to as the user, and the TLS connection is spliced straight to
 * it. Nothing else is parsed, and no session host is started for a tunnel.
 */
export async function relayTunnel(
	socket: TLSSocket,
	openTunnel: (uid: number, tokenLine: string) => Promise<Socket>,
	onAccepted: () => void,
	logger: Logger,
): Promise<void> {
	// The peer is told nothing either way (the connection just closes); the log keeps the reason.
	const refuse = (level: 'info' | 'warn', reason: string, details: object = {}) => {
		logger[level]({ ...details, reason }, 'tunnel refused');
		socket.destroy();
	};
	const first = await readFirstLine(socket, maxLineBytes);
	const match = first && tokenLine.exec(first.line);
	if (!first || !match) return refuse('info', 'malformed tunnel token');
	const uid = Number(match[1]);
	let kernel: Socket;
	try {
		kernel = await openTunnel(uid, first.line);
	} catch (error) {
		return refuse(error instanceof NotTheHostError ? 'warn' : 'info', (error as Error).message, { uid });
	}
	if (socket.destroyed) return void kernel.destroy();
	onAccepted();
	socket.setNoDelay(true);
	splice(socket, kernel, first.rest);
}
