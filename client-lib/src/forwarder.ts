import { chmod, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TLSSocket } from 'node:tls';
import { ErrorCodes, TUNNEL_ALPN_PROTOCOL, type Kernel, type KernelChannel } from '@spyder-remote/protocol';
import { fingerprintOf, splice } from '@spyder-remote/protocol/node';
import { RemoteError } from './errors.js';
import { canCheckLoopbackPeers, loopbackPeerUid } from './peer-credentials.js';
import type { RemoteSession } from './session.js';
import { openTls } from './tls-connection.js';

const jupyterChannels = ['shell', 'iopub', 'stdin', 'control', 'hb'] as const;

/** Where Jupyter clients look for connection files: $JUPYTER_RUNTIME_DIR, else ~/.local/share/jupyter/runtime. */
export function jupyterRuntimeDir(): string {
	return process.env.JUPYTER_RUNTIME_DIR || join(homedir(), '.local', 'share', 'jupyter', 'runtime');
}

/**
 * How local clients reach the forwarded kernel. `ipc`: Unix sockets in a
 * 0700 directory of this user's, which no other local user can open
 * (jupyter_client's `"transport": "ipc"`). `tcp`: ports on 127.0.0.1, for
 * clients that need them (spyder-kernels 2.x's comm port, Windows); on
 * Linux a connection from another uid is refused before any tunnel opens.
 */
export type ForwarderTransport = 'tcp' | 'ipc';

export interface ForwarderOptions {
	/** Directory for the connection file; default the Jupyter runtime directory. */
	readonly connectionDir?: string;
	/** Default `tcp`, which every Jupyter client supports. */
	readonly transport?: ForwarderTransport;
	/**
	 * Called for each tunnel that could not be opened (the local ZMQ socket will retry), and once, with a
	 * KernelGoneError, when the server says the kernel no longer exists: the forwarder then stops listening.
	 */
	readonly onError?: (error: Error) => void;
}

/** The server no longer knows the forwarded kernel (shut down, or dead): its local endpoints are closed. */
export class KernelGoneError extends Error {
	override name = 'KernelGoneError';
	constructor(readonly kernelId: string) {
		super(`kernel ${kernelId} no longer exists on the server; its local endpoints are closed`);
	}
}

/**
 * A kernel made local: one local endpoint per Jupyter channel (a 127.0.0.1
 * port, or a Unix socket with `transport: 'ipc'`; and the spyder-kernels comm
 * port), and a standard connection file pointing at them. Each local
 * connection becomes one TLS tunnel to the daemon,
 * authorised by a fresh single-use token; after the token line only the
 * kernel's own ZMTP bytes travel, untouched.
 */
export class KernelForwarder {
	/** Open local and tunnel sockets, by the channel they carry. */
	private readonly sockets = new Map<Socket, KernelChannel>();
	/** Set once the server has said the kernel is gone; no tunnel is asked for after that. */
	private gone = false;

	private constructor(
		private readonly session: RemoteSession,
		private current: Kernel,
		private readonly servers: Map<KernelChannel, Server>,
		readonly connectionFile: string,
		/** The ipc transport's private socket directory; undefined for tcp. */
		private readonly socketDir: string | undefined,
	) {}

	get kernel(): Kernel {
		return this.current;
	}

	/**
	 * After kernel/restart the sockets and key stay, but spyder-kernels picks a
	 * new comm port and tells Spyder its number: listen on that one instead.
	 */
	async follow(kernel: Kernel, options: ForwarderOptions = {}): Promise<void> {
		this.current = kernel;
		const comm = this.servers.get('comm');
		if (comm && (comm.address() as AddressInfo).port === kernel.commPort) return;
		if (comm) {
			this.servers.delete('comm');
			// A frontend reconnecting to the old number may already have been tunnelled to the new comm socket; close() would wait for it forever.
			for (const [socket, channel] of this.sockets) if (channel === 'comm') socket.destroy();
			await new Promise((resolve) => comm.close(resolve));
		}
		if (kernel.commPort !== undefined) this.servers.set('comm', await this.listen('comm', kernel.commPort, options));
	}

	/** Local port of each channel; with ipc, the number in its socket's name. */
	get ports(): Partial<Record<KernelChannel, number>> {
		return Object.fromEntries(
			[...this.servers].map(([channel, server]) => [channel, this.socketDir ? ipcPort(channel) : (server.address() as AddressInfo).port]),
		);
	}

	static async open(session: RemoteSession, kernel: Kernel, options: ForwarderOptions = {}): Promise<KernelForwarder> {
		const ipc = options.transport === 'ipc';
		// Spyder finds the comm port by the number the kernel announces, on the connection file's TCP address.
		if (ipc && kernel.commPort !== undefined) throw new Error('the ipc transport cannot carry the comm port of spyder-kernels 2.x; use tcp');
		const servers = new Map<KernelChannel, Server>();
		// mkdtemp makes the directory 0700: no other local user can reach the sockets inside.
		const socketDir = ipc ? await mkdtemp(join(tmpdir(), 'ssd-kernel-')) : undefined;
		const forwarder = new KernelForwarder(
			session,
			kernel,
			servers,
			join(options.connectionDir ?? jupyterRuntimeDir(), `kernel-ssd-${kernel.id}.json`),
			socketDir,
		);
		try {
			for (const channel of jupyterChannels) servers.set(channel, await forwarder.listen(channel, 0, options));
			// Spyder connects to the comm port at the number the kernel announces, on the connection file's address.
			if (kernel.commPort !== undefined) {
				const comm = await forwarder.listen('comm', kernel.commPort, options).catch((error: Error) => {
					options.onError?.(
						new Error(`local port ${kernel.commPort} for the comm channel is taken; Spyder's variable explorer will not work: ${error.message}`),
					);
					return undefined;
				});
				if (comm) servers.set('comm', comm);
			}
			await forwarder.writeConnectionFile();
			return forwarder;
		} catch (error) {
			await forwarder.close();
			throw error;
		}
	}

	async close(): Promise<void> {
		for (const socket of this.sockets.keys()) socket.destroy();
		await Promise.all([...this.servers.values()].map((server) => new Promise((resolve) => server.close(resolve))));
		await rm(this.connectionFile, { force: true });
		if (this.socketDir) await rm(this.socketDir, { recursive: true, force: true });
	}

	private async writeConnectionFile(): Promise<void> {
		const ports = this.ports;
		const info = {
			transport: this.socketDir ? 'ipc' : 'tcp',
			// jupyter_client connects an ipc channel to `<ip>-<port>`.
			ip: this.socketDir ? ipcPrefix(this.socketDir) : '127.0.0.1',
			shell_port: ports.shell,
			iopub_port: ports.iopub,
			stdin_port: ports.stdin,
			control_port: ports.control,
			hb_port: ports.hb,
			key: this.current.connection.key,
			signature_scheme: this.current.connection.signatureScheme,
			kernel_name: this.current.connection.kernelName,
		};
		const directory = join(this.connectionFile, '..');
		await mkdir(directory, { recursive: true, mode: 0o700 });
		// 0600: the file holds the kernel's HMAC key, which is as good as the user's password for this kernel.
		await writeFile(this.connectionFile, `${JSON.stringify(info, null, 1)}\n`, { mode: 0o600 });
		// The mode option applies only to a new file; a leftover one must not keep looser rights.
		await chmod(this.connectionFile, 0o600);
	}

	private listen(channel: KernelChannel, port: number, options: ForwarderOptions): Promise<Server> {
		return new Promise((resolve, reject) => {
			const server = createServer({ noDelay: true }, (local) => this.tunnel(channel, local, options));
			server.once('error', reject);
			const listening = () => {
				server.off('error', reject);
				resolve(server);
			};
			if (this.socketDir) server.listen(`${ipcPrefix(this.socketDir)}-${ipcPort(channel)}`, listening);
			else server.listen(port, '127.0.0.1', listening);
		});
	}

	private async tunnel(channel: KernelChannel, local: Socket, options: ForwarderOptions): Promise<void> {
		this.sockets.set(local, channel);
		local.once('close', () => this.sockets.delete(local));
		local.on('error', () => undefined);
		local.pause();
		try {
			// A Unix socket in our 0700 directory admits only us; a TCP port admits every local user unless checked.
			if (!this.socketDir && canCheckLoopbackPeers) {
				const peer = await loopbackPeerUid(local);
				if (peer !== process.getuid!())
					throw new Error(
						`refused a ${channel} connection from ${peer === undefined ? 'a process that could not be identified' : `uid ${peer}`}: only this user may use the forwarded kernel`,
					);
			}
			const { token } = await this.session.connectKernel(this.current.id, channel);
			const remote = await openTunnel(this.session.server.host, this.session.server.port, this.session.server.fingerprint);
			this.sockets.set(remote, channel);
			remote.once('close', () => this.sockets.delete(remote));
			remote.write(`${token}\n`);
			splice(local, remote);
		} catch (error) {
			local.destroy();
			if (error instanceof RemoteError && error.code === ErrorCodes.KernelNotFound) this.retire(options);
			else options.onError?.(error as Error);
		}
	}

	/**
	 * Stops listening once the kernel is gone. A frontend left open reconnects every
	 * channel ten times a second, and each attempt would cost the server a request;
	 * a closed endpoint refuses it locally instead.
	 */
	private retire(options: ForwarderOptions): void {
		if (this.gone) return;
		this.gone = true;
		for (const socket of this.sockets.keys()) socket.destroy();
		for (const server of this.servers.values()) server.close();
		options.onError?.(new KernelGoneError(this.current.id));
	}
}

/** A TLS connection for one tunnel, to the server the session already verified: same certificate or nothing. */
async function openTunnel(host: string, port: number, fingerprint: string): Promise<TLSSocket> {
	const socket = await openTls(host, port, TUNNEL_ALPN_PROTOCOL, 10_000);
	if (fingerprintOf(socket.getPeerCertificate().raw) !== fingerprint) {
		socket.destroy();
		throw new Error(`${host}:${port} presented another certificate for the tunnel than for the session`);
	}
	return socket;
}

function ipcPrefix(socketDir: string): string {
	return join(socketDir, 'kernel');
}

/** The number that names a channel's socket under ipc: its place among Jupyter's channels. */
function ipcPort(channel: KernelChannel): number {
	return jupyterChannels.indexOf(channel as (typeof jupyterChannels)[number]) + 1;
}
