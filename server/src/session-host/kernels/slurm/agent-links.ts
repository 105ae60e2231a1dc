import { randomBytes } from 'node:crypto';
import { rm } from 'node:fs/promises';
import { createServer, type Socket } from 'node:net';
import { join } from 'node:path';
import { closeDescriptor, connectUnixSocket, sendDescriptor } from '../../../common/descriptor-passing.js';
import { readFirstLine } from '../../../common/first-line.js';
import type { Logger } from '../../../common/log.js';
import { NODE_PREFIX } from '../../../common/node-link.js';
import { OneUseTokens } from '../../one-use-tokens.js';
import { socketDescriptor } from '../tunnel.js';

/** What a dial-back token was issued for: a kernel's control link, or one stream of it. */
export interface DialBackGrant {
	readonly kernelId: string;
	/** The directory where the hand-over's socket pair is made: the kernel's own, 0700. */
	readonly directory: string;
	/** Takes the connection; the peer is the address the daemon saw the agent dial from. */
	readonly accept: (link: Socket, peer: string) => void;
}

/** `NODE <peer address> <token>` */
const handOverLine = /^NODE ([0-9a-fA-F.:]{1,64}) (\d{1,10}\.[A-Za-z0-9_-]{32})$/;
const maxLineBytes = 256;

/**
 * The host's side of node agents' dial-backs. The daemon relays an agent's
 * TLS connection as it relays a tunnel, but to a socket this host keeps
 * rather than to a kernel socket: the host makes a connected pair, hands one
 * end to the daemon, and gives the other to whoever the token was issued for.
 */
export class AgentLinks {
	private readonly tokens: OneUseTokens<DialBackGrant>;

	constructor(
		uid: number,
		private readonly logger: Logger,
	) {
		this.tokens = new OneUseTokens(uid);
	}

	issue(grant: DialBackGrant, lifetimeMs: number): string {
		return this.tokens.issue(grant, lifetimeMs);
	}

	/** A kernel that is gone takes its unused tokens with it. */
	revoke(kernelId: string): void {
		this.tokens.revoke((grant) => grant.kernelId === kernelId);
	}

	/** Serves one `NODE …` hand-over connection from the daemon. */
	async serve(handOver: Socket): Promise<void> {
		const first = await readFirstLine(handOver, maxLineBytes);
		const match = first?.line.startsWith(NODE_PREFIX) ? handOverLine.exec(first.line) : null;
		const grant = match ? this.tokens.redeem(match[2]!) : undefined;
		if (!match || !grant) {
			this.logger.warn({ peer: match?.[1] }, 'node agent refused: unknown, used or expired token');
			handOver.destroy();
			return;
		}
		try {
			grant.accept(await this.handOverPair(handOver, grant.directory), match[1]!);
		} catch (error) {
			this.logger.warn({ err: (error as Error).message, kernel: grant.kernelId }, 'node agent hand-over failed');
		}
		handOver.destroy();
	}

	/** A connected pair of Unix sockets: one end goes to the daemon, which splices the agent's TLS connection to it; the other is returned. */
	private async handOverPair(handOver: Socket, directory: string): Promise<Socket> {
		const path = join(directory, `link-${randomBytes(6).toString('hex')}`);
		const server = createServer();
		try {
			const accepted = new Promise<Socket>((resolve) => server.once('connection', resolve));
			await new Promise<void>((resolve, reject) => {
				server.once('error', reject);
				server.listen(path, resolve);
			});
			const end = connectUnixSocket(path);
			try {
				sendDescriptor(socketDescriptor(handOver), end);
			} finally {
				closeDescriptor(end);
			}
			return await accepted;
		} finally {
			server.close();
			await rm(path, { force: true });
		}
	}
}
