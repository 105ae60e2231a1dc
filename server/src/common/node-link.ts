/**
 * The link between a session host and its node agent (spec 6.15): what the
 * agent is told at start, and the JSON lines both send on the control
 * connection. The host trusts nothing the agent says beyond its own kernel:
 * the agent runs as the same user, on a node the user was allocated.
 */
import { createHash } from 'node:crypto';
import type { Socket } from 'node:net';
import { fileURLToPath } from 'node:url';

/** The environment variable that carries AgentSettings into the job (the job's environment is readable only by the user and root). */
export const AGENT_SETTINGS_VARIABLE = 'SPYDER_REMOTE_NODE_AGENT';

/**
 * The node agent's entry point, which a kernel job's batch script runs.
 * Resolved from this module, one folder below bin/ as in dist/, and beside
 * the bin/ of the release's bundles, where every entry point sits in lib/bin/.
 */
export const NODE_AGENT_ENTRY = fileURLToPath(new URL('../bin/ssd-node-agent.js', import.meta.url));

/** How the daemon starts an agent's hand-over on a host connection, beside TUNNEL_PREFIX. */
export const NODE_PREFIX = 'NODE ';

export interface AgentSettings {
	/** Where to dial: the configured address, or empty for `$SLURM_SUBMIT_HOST`. */
	readonly daemonHost: string;
	readonly daemonPort: number;
	/** The daemon's certificate fingerprint (`SHA256:…`), pinned. */
	readonly fingerprint: string;
	/** One-use token for the control connection. */
	readonly token: string;
	readonly python: string;
	readonly module: 'spyder_kernels.console' | 'ipykernel_launcher';
	readonly cwd: string;
	readonly env: Record<string, string>;
	/** The connection file's content; the agent replaces `ip` with its own directory on the node. */
	readonly connection: { readonly ip: string };
}

/**
 * What the agent's MUNGE credential says: this job, this link's token (as a
 * digest). MUNGE, Slurm's own authentication, attests the uid that made the
 * credential, on a node of the cluster, and refuses a credential decoded
 * before; the host checks both, so a token taken to another user's job does
 * not make a link.
 */
export function attestationPayload(jobId: string, token: string): string {
	return `spyder-remote-node/1 job=${jobId} token=${createHash('sha256').update(token).digest('hex')}`;
}

export type HostMessage =
	| { readonly type: 'start' }
	| { readonly type: 'signal'; readonly signal: 'SIGINT' | 'SIGTERM' | 'SIGKILL' }
	| { readonly type: 'open'; readonly port: number; readonly token: string };

export type AgentMessage =
	| { readonly type: 'hello'; readonly jobId: string; readonly hostname: string; readonly credential: string }
	| { readonly type: 'started'; readonly pid: number }
	/** spyder-kernels 2.x opened its comm port, a socket of a number of its own choosing. */
	| { readonly type: 'comm'; readonly port: number }
	| { readonly type: 'exited'; readonly exitCode?: number; readonly signal?: string; readonly stderrTail: readonly string[] };

const maxLineBytes = 256 * 1024;

/** Sends one message as a JSON line. */
export function sendLine(socket: Socket, message: HostMessage | AgentMessage): void {
	socket.write(`${JSON.stringify(message)}\n`);
}

/** Calls `onMessage` for each JSON line; a line too long or not JSON ends the link. */
export function readLines(socket: Socket, onMessage: (message: Record<string, unknown>) => void): void {
	let buffered = '';
	socket.setEncoding('utf8');
	socket.on('data', (chunk: string) => {
		buffered += chunk;
		let newline;
		while ((newline = buffered.indexOf('\n')) !== -1) {
			const line = buffered.slice(0, newline);
			buffered = buffered.slice(newline + 1);
			let message: unknown;
			try {
				message = JSON.parse(line);
			} catch {
				socket.destroy();
				return;
			}
			if (typeof message === 'object' && message !== null) onMessage(message as Record<string, unknown>);
		}
		if (buffered.length > maxLineBytes) socket.destroy();
	});
}
