import type { Socket } from 'node:net';
import type { KernelChannel } from '@spyder-remote/protocol';
import { closeDescriptor, connectUnixSocket, DescriptorError, ECONNREFUSED, ENOENT, sendDescriptor } from '../../common/descriptor-passing.js';
import { readFirstLine } from '../../common/first-line.js';
import { TUNNEL_PREFIX } from '../../common/host-wire.js';
import type { Logger } from '../../common/log.js';
import { OneUseTokens } from '../one-use-tokens.js';

const tokenLifetimeMs = 30_000;

interface Grant {
	readonly kernelId: string;
	readonly channel: KernelChannel;
}

/** Tunnel tokens: each for one kernel and one channel, once, within 30 seconds. */
export class TunnelTokens {
	private readonly tokens: OneUseTokens<Grant>;

	constructor(uid: number) {
		this.tokens = new OneUseTokens(uid);
	}

	issue(kernelId: string, channel: KernelChannel): { token: string; expiresInMs: number } {
		return { token: this.tokens.issue({ kernelId, channel }, tokenLifetimeMs), expiresInMs: tokenLifetimeMs };
	}

	redeem(presented: string): Grant | undefined {
		return this.tokens.redeem(presented);
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
export async function serveTunnel(
	socket: Socket,
	tokens: TunnelTokens,
	resolvePath: (kernelId: string, channel: KernelChannel) => string,
	logger: Logger,
): Promise<void> {
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
export function socketDescriptor(socket: Socket): number {
	const fd = (socket as unknown as { _handle?: { fd?: number } })._handle?.fd;
	if (typeof fd !== 'number' || fd < 0) throw new Error('the connection has no descriptor');
	return fd;
}
