/**
 * Everything the extension does, with no VS Code in it, so that it runs and
 * is tested under plain Node. extension.cts only maps it onto VS Code's
 * pickers and messages.
 */
import { configuredHosts, connect, discover, KernelForwarder, type KnownHosts } from '@spyder-remote/client';
import type { Environment, Kernel } from '@spyder-remote/protocol';

/** The commands package.json contributes; extension.cts registers exactly these. */
export const commands = [
	{ command: 'spyderRemote.listServers', title: 'List Servers', category: 'Spyder Remote' },
	{ command: 'spyderRemote.openKernel', title: 'Open Kernel', category: 'Spyder Remote' },
] as const;

export type CommandId = (typeof commands)[number]['command'];

export interface ServerChoice {
	/** The announced instance name, or the NAME in the hosts file. */
	readonly label: string;
	readonly host: string;
	readonly port: number;
	/** One line for a picker: where the server is and how it was found. */
	readonly detail: string;
	/** Unauthenticated: passed to connect() only so that a mismatch is reported. */
	readonly announcedFingerprint?: string;
}

export interface ListOptions {
	/** How long to listen for announcements. */
	readonly discoveryMs?: number;
	readonly interfaces?: string[];
	/** Default: the hosts file in the client config directory. */
	readonly hostsFile?: string;
	readonly knownHosts?: KnownHosts | false;
}

/** The servers in the hosts file, then those announced on the local network. */
export async function listServers(options: ListOptions = {}): Promise<ServerChoice[]> {
	const configured = (await configuredHosts(options.hostsFile)).map(({ name, host, port }) => ({ label: name, host, port, detail: `${host}:${port}, from the hosts file` }));
	const announced = new Map<string, ServerChoice>();
	const browsing = discover({
		signal: AbortSignal.timeout(options.discoveryMs ?? 2000),
		...(options.interfaces ? { interfaces: options.interfaces } : {}),
		...(options.knownHosts === undefined ? {} : { knownHosts: options.knownHosts }),
	});
	for await (const { type, server } of browsing) {
		if (type === 'down') {
			announced.delete(server.instanceName);
			continue;
		}
		const address = server.addresses[0]!;
		announced.set(server.instanceName, {
			label: server.instanceName,
			host: address,
			port: server.port,
			detail: `${address}:${server.port}, announced${server.pinned ? ', certificate pinned' : ''}`,
			announcedFingerprint: server.fingerprint,
		});
	}
	return [...configured, ...announced.values()];
}

export interface OpenKernelOptions {
	readonly server: Pick<ServerChoice, 'host' | 'port' | 'announcedFingerprint'>;
	readonly user: string;
	/** Undefined when the user gave up. */
	readonly password: () => Promise<string | undefined>;
	/** Asked only for a server that is neither pinned nor vouched for by a CA: trust this fingerprint? */
	readonly trust: (fingerprint: string) => Promise<boolean>;
	/** Undefined when the user gave up. */
	readonly chooseEnvironment: (environments: Environment[]) => Promise<Environment | undefined>;
	/** The fingerprint the caller already knows, e.g. from the administrator. */
	readonly fingerprint?: string;
	readonly knownHosts?: KnownHosts | false;
	/** Where the Jupyter connection file goes; default the Jupyter runtime directory. */
	readonly connectionDir?: string;
	readonly onWarning?: (message: string) => void;
}

export interface OpenedKernel {
	readonly kernel: Kernel;
	readonly environment: Environment;
	/** A standard Jupyter connection file: any Jupyter frontend can use the kernel through it. */
	readonly connectionFile: string;
	/** Closes the local ports and the connection; the kernel outlives them for the server's lease unless stopped. */
	close(options: { stopKernel: boolean }): Promise<void>;
}

/** Logs in, starts a kernel in the chosen environment and forwards it. Undefined when the user gave up on the way. */
export async function openKernel(options: OpenKernelOptions): Promise<OpenedKernel | undefined> {
	const session = await connect({
		...options.server,
		...(options.fingerprint ? { fingerprint: options.fingerprint } : {}),
		...(options.knownHosts === undefined ? {} : { knownHosts: options.knownHosts }),
		...(options.onWarning ? { onWarning: options.onWarning } : {}),
		onUnknownHost: ({ fingerprint }) => options.trust(fingerprint),
		clientInfo: { name: 'spyder-remote-vscode-example', version: '0.1.0' },
	});
	try {
		const password = await options.password();
		if (password === undefined) {
			await session.close();
			return undefined;
		}
		await session.loginWithPassword(options.user, password);
		const environment = await options.chooseEnvironment(await session.listEnvironments());
		if (!environment) {
			await session.close();
			return undefined;
		}
		// A Spyder kernel where spyder-kernels is installed, else a plain IPython kernel.
		const kernel = await session.startKernel({ environment: environment.id, kind: environment.spyderKernels ? 'spyder' : 'ipykernel' });
		const forwarder = await KernelForwarder.open(session, kernel, options.connectionDir ? { connectionDir: options.connectionDir } : {});
		return {
			kernel,
			environment,
			connectionFile: forwarder.connectionFile,
			async close({ stopKernel }) {
				await forwarder.close();
				if (stopKernel) await session.shutdownKernel(kernel.id);
				await session.close();
			},
		};
	} catch (error) {
		session.destroy();
		throw error;
	}
}
