import { randomBytes, timingSafeEqual } from 'node:crypto';
import type { Socket } from 'node:net';
import type { KernelChannel } from '@spyder-remote/protocol';
import { closeDescriptor, connectUnixSocket, DescriptorError, ECONNREFUSED, ENOENT, sendDescriptor } from '../../common/descriptor-passing.js';
import { readFirstLine } from '../../common/first-line.js';
import { TUNNEL_PREFIX } from '../../common/host-wire.js';
import type { Logger } from '../../common/log.js';

const tokenLifetimeMs = 30_000;

interface Grant {
	readonly kernelId: string;
	readonly channel: KernelChannel;
	readonly expires: number;
}

/**
 * Single-use tunnel tokens. A token is `<uid>.<random>`: the uid lets the
 * daemon route the connection to this user's session host without knowing
 * anything else; only this host can honour the random part, once, for one
 * kernel and one channel, within 30 seconds.
 */
export class TunnelTokens {
	private readonly grants = new Map<string, Grant>();

	constructor(private readonly uid: number) {}

	issue(kernelId: string, channel: KernelChannel): { token: string; expiresInMs: number } {
		this.sweep();
		const token = `${this.uid}.${randomBytes(24).toString('base64url')}`;
		this.grants.set(token, { kernelId, channel, expires: Date.now() + tokenLifetimeMs });
		return { token, expiresInMs: tokenLifetimeMs };
	}

	/** The grant for a presented token, consumed; undefined for anything unknown, used or stale. */
	redeem(presented: string): Grant | undefined {
		this.sweep();
		for (const [token, grant] of this.grants) {
			const a = Buffer.from(token);
			const b = Buffer.from(presented);
			if (a.length === b.length && timingSafeEqual(a, b)) {
				this.grants.delete(token);
				return grant;
			}
		}
		return undefined;
	}

	private sweep(): void {
		const now = Date.now();
		for (const [token, grant] of this.grants) if (grant.expires < now) this.grants.delete(token);
	}
}

const maxTunnelLine = 256;

/**
 * Serves one tunnel connection from the daemon: reads the token line,
 * connects to the kernel's Unix socket for the granted channel, and hands
 * the connected descriptor back to the daemon, which relays to it directly.
 * The host connects as the user, so even a symlink planted in the kernel
 * directory leads nowhere the user could not go anyway.
 */
export async function serveTunnel(socket: Socket, tokens: TunnelTokens, resolvePath: (kernelId: string, channel: KernelChannel) => string, logger: Logger): Promise<void> {
	const first = await readFirstLine(socket, maxTunnelLine);
	const grant = first?.line.startsWith(TUNNEL_PREFIX) ? tokens.redeem(first.line.slice(TUNNEL_PREFIX.length)) : undefined;
	if (!first || !grant) {
		logger.warn('tunnel refused: unknown, used or expired token');
		socket.destroy();
		return;
	}
	try {
		const kernelSocket = connectUnixSocket(resolvePath(grant.kernelId, grant.channel));
		try {
			sendDescriptor(socketDescriptor(socket), kernelSocket);
		} finally {
			closeDescriptor(kernelSocket);
		}
	} catch (error) {
		// A kernel that is restarting has no sockets for a moment, and its frontends retry every 100 ms or so.
		const socketGone = error instanceof DescriptorError && (error.errno === ENOENT || error.errno === ECONNREFUSED);
		logger[socketGone ? 'debug' : 'warn']({ err: (error as Error).message, kernel: grant.kernelId, channel: grant.channel }, 'tunnel failed');
	}
	socket.destroy();
}

/** The OS descriptor under a connected net.Socket; libuv has nothing queued on it here, so a direct sendmsg keeps byte order. */
function socketDescriptor(socket: Socket): number {
	const fd = (socket as unknown as { _handle?: { fd?: number } })._handle?.fd;
	if (typeof fd !== 'number' || fd < 0) throw new Error('the connection has no descriptor');
	return fd;
}
