import type { Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { splice } from '@spyder-remote/protocol/node';
import { readFirstLine } from '../common/first-line.js';
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
export async function relayTunnel(socket: TLSSocket, connectHost: (uid: number) => Promise<Socket | undefined>, onAccepted: () => void, logger: Logger): Promise<void> {
	const refuse = (reason: string) => {
		logger.info({ reason }, 'tunnel refused');
		socket.destroy();
	};
	const first = await readFirstLine(socket, maxLineBytes);
	const match = first && tokenLine.exec(first.line);
	if (!first || !match) return refuse('malformed tunnel token');
	const host = await connectHost(Number(match[1])).catch(() => undefined);
	if (!host) return refuse('no session host for that token');
	onAccepted();
	host.write(`TUNNEL ${first.line}\n`);
	socket.setNoDelay(true);
	splice(socket, host, first.rest);
}
