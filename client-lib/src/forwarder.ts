import { chmod, mkdir, rm, writeFile } from 'node:fs/promises';
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { homedir } from 'node:os';
import { join } from 'node:path';
import type { TLSSocket } from 'node:tls';
import { TUNNEL_ALPN_PROTOCOL, type Kernel, type KernelChannel } from '@spyder-remote/protocol';
import { fingerprintOf, splice } from '@spyder-remote/protocol/node';
import { openTls, type RemoteSession } from './session.js';

const jupyterChannels = ['shell', 'iopub', 'stdin', 'control', 'hb'] as const;

/** Where Jupyter clients look for connection files: $JUPYTER_RUNTIME_DIR, else ~/.local/share/jupyter/runtime. */
export function jupyterRuntimeDir(): string {
	return process.env.JUPYTER_RUNTIME_DIR || join(homedir(), '.local', 'share', 'jupyter', 'runtime');
}

export interface ForwarderOptions {
	/** Directory for the connection file; default the Jupyter runtime directory. */
	readonly connectionDir?: string;
	/** Called for each tunnel that could not be opened (the local ZMQ socket will retry). */
	readonly onError?: (error: Error) => void;
}

/**
 * A kernel made local: one 127.0.0.1 port per Jupyter channel (and the
 * spyder-kernels comm port), and a standard connection file pointing at
 * them. Each local TCP connection becomes one TLS tunnel to the daemon,
 * authorised by a fresh single-use token; after the token line only the
 * kernel's own ZMTP bytes travel, untouched.
 */
export class KernelForwarder {
	/** Open local and tunnel sockets, by the channel they carry. */
	private readonly sockets = new Map<Socket, KernelChannel>();

	private constructor(
		private readonly session: RemoteSession,
		private current: Kernel,
		private readonly servers: Map<KernelChannel, Server>,
		readonly connectionFile: string,
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

	/** Local port of each channel. */
	get ports(): Partial<Record<KernelChannel, number>> {
		return Object.fromEntries([...this.servers].map(([channel, server]) => [channel, (server.address() as AddressInfo).port]));
	}

	static async open(session: RemoteSession, kernel: Kernel, options: ForwarderOptions = {}): Promise<KernelForwarder> {
		const servers = new Map<KernelChannel, Server>();
		const forwarder = new KernelForwarder(session, kernel, servers, join(options.connectionDir ?? jupyterRuntimeDir(), `kernel-ssd-${kernel.id}.json`));
		try {
			for (const channel of jupyterChannels) servers.set(channel, await forwarder.listen(channel, 0, options));
			// Spyder connects to the comm port at the number the kernel announces, on the connection file's address.
			if (kernel.commPort !== undefined) {
				const comm = await forwarder.listen('comm', kernel.commPort, options).catch((error: Error) => {
					options.onError?.(new Error(`local port ${kernel.commPort} for the comm channel is taken; Spyder's variable explorer will not work: ${error.message}`));
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
	}

	private async writeConnectionFile(): Promise<void> {
		const ports = this.ports;
		const info = {
			transport: 'tcp',
			ip: '127.0.0.1',
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
			server.listen(port, '127.0.0.1', () => {
				server.off('error', reject);
				resolve(server);
			});
		});
	}

	private async tunnel(channel: KernelChannel, local: Socket, options: ForwarderOptions): Promise<void> {
		this.sockets.set(local, channel);
		local.once('close', () => this.sockets.delete(local));
		local.on('error', () => undefined);
		local.pause();
		try {
			const { token } = await this.session.connectKernel(this.current.id, channel);
			const remote = await openTunnel(this.session.server.host, this.session.server.port, this.session.server.fingerprint);
			this.sockets.set(remote, channel);
			remote.once('close', () => this.sockets.delete(remote));
			remote.write(`${token}\n`);
			splice(local, remote);
		} catch (error) {
			options.onError?.(error as Error);
			local.destroy();
		}
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
