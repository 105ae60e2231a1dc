import type { Duplex } from 'node:stream';

/**
 * Joins two byte streams both ways, with backpressure, after writing `head`
 * (bytes already read from `a`) to `b`. When either side closes or fails,
 * both are destroyed. Every relay in spyder-remote is this: the daemon's
 * login relay and tunnel hop, the session host's hop to a kernel, and the
 * client's forwarder. The bytes are never looked at.
 */
export function splice(a: Duplex, b: Duplex, head?: Uint8Array): void {
	if (head && head.length > 0) b.write(head);
	a.pipe(b);
	b.pipe(a);
	const closeBoth = () => {
		a.destroy();
		b.destroy();
	};
	for (const stream of [a, b]) {
		stream.once('close', closeBoth);
		stream.on('error', () => undefined);
	}
	a.resume();
}
