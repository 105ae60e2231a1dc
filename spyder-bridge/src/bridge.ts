import { clientConfigDir, loadKeyPair, keyFingerprint } from '@spyder-remote/client';
import type { MessageConnection } from 'vscode-jsonrpc/node';
import { DiscoveryFeed } from './discovery-feed.js';
import { Environments } from './environments.js';
import { BridgeError, toResponseError } from './errors.js';
import { Kernels } from './kernels.js';
import {
	BridgeErrorCodes,
	DiscoveryStartRequest,
	DiscoveryStopRequest,
	EnvironmentCreateRequest,
	EnvironmentInstallRequest,
	EnvironmentListRequest,
	EnvironmentPackagesRequest,
	EnvironmentRemoveRequest,
	EnvironmentUninstallRequest,
	InitializeRequest,
	KernelAttachRequest,
	KernelInterruptRequest,
	KernelListRequest,
	KernelReleaseRequest,
	KernelRestartRequest,
	KernelShutdownRequest,
	KernelStartRequest,
	SessionCloseRequest,
	SessionListRequest,
	SessionLoginRequest,
	SessionOpenRequest,
	SessionSaveKeyRequest,
	SessionWhoamiRequest,
	SessionCapabilitiesRequest,
	ShutdownRequest,
} from './protocol/main.js';
import { Sessions } from './sessions.js';
import { BRIDGE_VERSION } from './version.js';

interface Ready {
	readonly environments: Environments;
	readonly kernels: Kernels;
}

/**
 * Serves the plugin's requests over one connection. `exit()` runs once,
 * whether the plugin asked for `shutdown` or closed our stdin.
 */
export class Bridge {
	private readonly sessions: Sessions;
	private readonly discovery: DiscoveryFeed;
	private ready: Ready | undefined;
	private exiting: Promise<void> | undefined;
	/** From `initialize`, overridden by `shutdown`. */
	private stopKernelsOnExit = false;

	constructor(
		private readonly plugin: MessageConnection,
		private readonly onExited: () => void,
	) {
		this.sessions = new Sessions(plugin);
		this.discovery = new DiscoveryFeed(plugin);
		this.sessions.onClosed = (session) => void this.ready?.kernels.sessionClosed(session);
		this.register();
	}

	/** Detaches from (or, when asked, stops) the kernels, logs out politely, and reports that it is done. */
	exit(): Promise<void> {
		this.exiting ??= (async () => {
			// Each step is best effort and must not keep the next from running: the plugin is going away.
			await this.discovery.stop().catch(() => undefined);
			await this.ready?.kernels.closeAll(this.stopKernelsOnExit).catch(() => undefined);
			await this.sessions.closeAll().catch(() => undefined);
			this.onExited();
		})();
		return this.exiting;
	}

	private initialized(): Ready {
		if (!this.ready) throw new BridgeError(BridgeErrorCodes.Internal, 'the bridge was not initialized');
		return this.ready;
	}

	private register(): void {
		const on = this.plugin.onRequest.bind(this.plugin);
		on(InitializeRequest.type, async (options) => {
			const spyder = { version: options.spyderVersion, range: options.spyderKernelsRange };
			const environments = new Environments(this.plugin, this.sessions, spyder);
			this.ready = {
				environments,
				kernels: new Kernels(this.plugin, this.sessions, environments, {
					spyderVersion: options.spyderVersion,
					spyderKernelsRange: options.spyderKernelsRange,
					...(options.connectionDir ? { connectionDir: options.connectionDir } : {}),
				}),
			};
			this.stopKernelsOnExit = options.stopKernelsOnExit === true;
			// An unreadable key file is shown as no key; logging in with one reports the error.
			const keyPair = await loadKeyPair().catch(() => undefined);
			return { bridgeVersion: BRIDGE_VERSION, configDir: clientConfigDir(), ...(keyPair ? { keyFingerprint: keyFingerprint(keyPair) } : {}) };
		});
		on(ShutdownRequest.type, async ({ stopKernels }) => {
			// Set now: the plugin may close stdin right after this request, and whichever comes first starts the exit.
			if (stopKernels !== undefined) this.stopKernelsOnExit = stopKernels;
			setImmediate(() => void this.exit());
			return null;
		});

		on(DiscoveryStartRequest.type, async ({ interfaces }) => guard(async () => ({ servers: await this.discovery.start(interfaces) })));
		on(DiscoveryStopRequest.type, async () => guard(async () => (await this.discovery.stop(), null)));

		on(SessionOpenRequest.type, (params) => guard(() => this.sessions.open(params)));
		on(SessionLoginRequest.type, ({ session, user, password }) =>
			guard(async () => {
				const result = await this.sessions.login(session, user, password);
				const { environments, kernels } = this.initialized();
				const opened = this.sessions.get(session);
				environments.watch(opened);
				kernels.watch(opened);
				return result;
			}),
		);
		on(SessionSaveKeyRequest.type, ({ session }) => guard(() => this.sessions.saveKey(session)));
		on(SessionWhoamiRequest.type, ({ session }) =>
			guard(() => {
				const opened = this.sessions.get(session);
				return this.sessions.call(opened, () => opened.remote.whoami());
			}),
		);
		on(SessionCapabilitiesRequest.type, ({ session }) =>
			guard(() => {
				const opened = this.sessions.get(session);
				return this.sessions.call(opened, () => opened.remote.serverCapabilities());
			}),
		);
		on(SessionListRequest.type, async () => ({ sessions: this.sessions.all.map((session) => session.info) }));
		on(SessionCloseRequest.type, ({ session }) => guard(async () => (await this.sessions.close(session), null)));

		on(EnvironmentListRequest.type, ({ session, refresh }) =>
			guard(async () => ({ environments: await this.initialized().environments.list(this.sessions.get(session), refresh === true) })),
		);
		on(EnvironmentPackagesRequest.type, ({ session, id }) =>
			guard(async () => ({ packages: await this.initialized().environments.packages(this.sessions.get(session), id) })),
		);
		on(EnvironmentCreateRequest.type, (params, token) =>
			guard(async () => ({ environment: await this.initialized().environments.create(this.sessions.get(params.session), params, token) })),
		);
		on(EnvironmentRemoveRequest.type, ({ session, id, operation }, token) =>
			guard(async () => (await this.initialized().environments.remove(this.sessions.get(session), id, operation, token), null)),
		);
		on(EnvironmentInstallRequest.type, (params, token) =>
			guard(async () => ({ environment: await this.initialized().environments.install(this.sessions.get(params.session), params, token) })),
		);
		on(EnvironmentUninstallRequest.type, (params, token) =>
			guard(async () => ({ environment: await this.initialized().environments.uninstall(this.sessions.get(params.session), params, token) })),
		);

		on(KernelListRequest.type, ({ session }) => guard(async () => ({ kernels: await this.initialized().kernels.list(this.sessions.get(session)) })));
		on(KernelStartRequest.type, ({ session, environment, cwd, placement }) =>
			guard(() => this.initialized().kernels.start(this.sessions.get(session), environment, cwd, placement)),
		);
		on(KernelAttachRequest.type, ({ session, id }) => guard(() => this.initialized().kernels.attach(this.sessions.get(session), id)));
		on(KernelReleaseRequest.type, ({ id, stop }) => guard(async () => (await this.initialized().kernels.release(id, stop === true), null)));
		on(KernelInterruptRequest.type, ({ session, id }) => guard(async () => (await this.initialized().kernels.interrupt(this.sessions.get(session), id), null)));
		on(KernelRestartRequest.type, ({ session, id }) =>
			guard(async () => ({ kernel: await this.initialized().kernels.restart(this.sessions.get(session), id) })),
		);
		on(KernelShutdownRequest.type, ({ session, id }) => guard(async () => (await this.initialized().kernels.shutdown(this.sessions.get(session), id), null)));
	}
}

/** Every failure reaches the plugin as a ResponseError with a readable message, never as an internal error with a stack. */
async function guard<T>(action: () => Promise<T>): Promise<T> {
	try {
		return await action();
	} catch (error) {
		throw toResponseError(error);
	}
}
