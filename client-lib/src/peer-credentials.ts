import { readFile } from 'node:fs/promises';
import type { Socket } from 'node:net';

/**
 * The uid that owns the other end of an accepted loopback TCP connection;
 * undefined when it cannot be found (the peer is gone, or not on this host).
 * Linux only (see canCheckLoopbackPeers). TCP has no SO_PEERCRED, but the peer's socket is a
 * row of /proc/net/tcp on this same host, with our ends swapped and its
 * owner's uid beside it.
 */
export async function loopbackPeerUid(socket: Socket): Promise<number | undefined> {
	const { localAddress, localPort, remoteAddress, remotePort } = socket;
	if (localAddress === undefined || localPort === undefined || remoteAddress === undefined || remotePort === undefined) return undefined;
	// The forwarder listens on 127.0.0.1 only, so its peers are IPv4 rows.
	const peerEnd = procAddress(remoteAddress, remotePort);
	const ourEnd = procAddress(localAddress, localPort);
	if (!peerEnd || !ourEnd) return undefined;
	const table = await readFile('/proc/net/tcp', 'latin1').catch(() => '');
	for (const line of table.split('\n').slice(1)) {
		const fields = line.trim().split(/\s+/);
		if (fields[1] === peerEnd && fields[2] === ourEnd) return Number(fields[7]);
	}
	return undefined;
}

/** Only Linux shows other processes' sockets with their owners; macOS and Windows would need libproc or the IP helper API. */
export const canCheckLoopbackPeers = process.platform === 'linux';

/** `a.b.c.d` and a port as /proc/net/tcp writes them: the address as a little-endian word, both in upper-case hex. */
function procAddress(address: string, port: number): string | undefined {
	const octets = /^(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(address)?.slice(1).map(Number);
	if (!octets) return undefined;
	const hex = (value: number, width: number) => value.toString(16).toUpperCase().padStart(width, '0');
	return `${octets
		.reverse()
		.map((octet) => hex(octet, 2))
		.join('')}:${hex(port, 4)}`;
}
