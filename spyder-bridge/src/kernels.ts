import { basename } from 'node:path';
import { KernelForwarder } from '@spyder-remote/client';
import type { Kernel, Placement } from '@spyder-remote/protocol';
import type { MessageConnection } from 'vscode-jsonrpc/node';
import { kernelView } from './compatibility.js';
import type { Environments } from './environments.js';
import { BridgeError } from './errors.js';
import {
	BridgeErrorCodes,
	KernelDidChangeJobNotification,
	KernelDidChangeStateNotification,
	KernelDidExitNotification,
	KernelDidRestartNotification,
	LogNotification,
	type KernelStartParams,
	type KernelView,
	type OpenedKernel,
} from './protocol/main.js';
import type { BridgeSession, Sessions } from './sessions.js';

interface Forwarded {
	readonly session: BridgeSession;
	readonly forwarder: KernelForwarder;
}

/**
 * The kernels Spyder has consoles on: one forwarder each, open from start or
 * attach until release, the end of the session, or the bridge's exit.
 */
export class Kernels {
	private readonly forwarded = new Map<string, Forwarded>();
	/** Kernels this bridge is stopping: their exit is no surprise to report. */
	private readonly stopping = new Set<string>();
	/** Forwarded kernels between the start and the readiness of a restart. */
	private readonly restarting = new Set<string>();
	private readonly subscribed = new WeakSet<BridgeSession>();

	constructor(
		private readonly plugin: MessageConnection,
		private readonly sessions: Sessions,
		private readonly environments: Environments,
		private readonly options: { readonly spyderVersion: string; readonly spyderKernelsRange: string; readonly connectionDir?: string },
	) {}

	/** Passes the session's kernel events on to the plugin, once per session. */
	watch(session: BridgeSession): void {
		if (this.subscribed.has(session)) return;
		this.subscribed.add(session);
		session.remote.onKernelEvent((event) => {
			if (event.type === 'state') {
				void this.plugin.sendNotification(KernelDidChangeStateNotification.type, { session: session.id, id: event.params.id, state: event.params.state });
				if (event.params.state === 'restarting' && this.forwarded.has(event.params.id)) this.restarting.add(event.params.id);
				if (event.params.state === 'idle' && this.restarting.delete(event.params.id)) void this.followRestart(session, event.params.id);
				return;
			}
			if (event.type === 'job') {
				void this.plugin.sendNotification(KernelDidChangeJobNotification.type, { session: session.id, ...event.params });
				return;
			}
			const expected = event.params.restarting || this.stopping.has(event.params.id);
			if (!event.params.restarting) {
				this.stopping.delete(event.params.id);
				void this.dropForwarder(event.params.id);
			}
			void this.plugin.sendNotification(KernelDidExitNotification.type, { session: session.id, expected, ...event.params });
		});
	}

	/** The user's kernels, each judged by its environment as this Spyder sees it. */
	async list(session: BridgeSession): Promise<KernelView[]> {
		const [kernels, environments] = await Promise.all([
			this.sessions.call(session, () => session.remote.listKernels()),
			this.environments.list(session, false),
		]);
		return kernels.map((kernel) => kernelView(kernel, environments, this.options.spyderVersion));
	}

	async start(session: BridgeSession, environment: string, cwd: string | undefined, placement: KernelStartParams['placement']): Promise<OpenedKernel> {
		const kernel = await this.sessions.call(session, () =>
			// The bridge's params are a read-only view of the server's Placement: the same fields, passed on as they came.
			session.remote.startKernel({
				environment,
				kind: 'spyder',
				spyderKernelsRange: this.options.spyderKernelsRange,
				...(cwd ? { cwd } : {}),
				...(placement ? { placement: placement as Placement } : {}),
			}),
		);
		return this.open(session, kernel);
	}

	/** Judged again here, not by the list the plugin showed: the environment may have changed since. */
	async attach(session: BridgeSession, id: string): Promise<OpenedKernel> {
		const view = (await this.list(session)).find((kernel) => kernel.id === id);
		if (view && !view.usable) throw new BridgeError(BridgeErrorCodes.KernelIncompatible, `Spyder cannot open a console on kernel ${id}: ${view.reason}.`);
		const existing = this.forwarded.get(id);
		if (existing && existing.session === session) return this.opened(session, existing.forwarder.kernel, existing.forwarder);
		return this.open(session, await this.sessions.call(session, () => session.remote.attachKernel(id)));
	}

	/** Spyder closed its last console on the kernel: stop forwarding, and stop the kernel only if asked. */
	async release(id: string, stop: boolean): Promise<void> {
		const entry = this.forwarded.get(id);
		if (!entry) return;
		await this.dropForwarder(id);
		if (stop) await this.shutdown(entry.session, id);
	}

	async interrupt(session: BridgeSession, id: string): Promise<void> {
		await this.sessions.call(session, () => session.remote.interruptKernel(id));
	}

	async restart(session: BridgeSession, id: string): Promise<Kernel> {
		return this.sessions.call(session, () => session.remote.restartKernel(id));
	}

	/**
	 * A forwarded kernel is ready after a restart, asked for here or by any
	 * other client of the user: the forwarder moves to the new comm port,
	 * then Spyder hears of it and reconnects its consoles' comms.
	 */
	private async followRestart(session: BridgeSession, id: string): Promise<void> {
		const entry = this.forwarded.get(id);
		const kernel = entry && (await entry.session.remote.listKernels().catch(() => [])).find((candidate) => candidate.id === id);
		if (!entry || !kernel) return;
		await entry.forwarder.follow(kernel).catch((error: Error) =>
			this.plugin.sendNotification(LogNotification.type, {
				level: 'warning',
				message: `Kernel ${id} restarted with comm port ${kernel.commPort}, which is taken here (${error.message}); the Variable Explorer of its console stays empty until you re-attach.`,
			}),
		);
		void this.plugin.sendNotification(KernelDidRestartNotification.type, { session: session.id, id, kernel });
	}

	async shutdown(session: BridgeSession, id: string): Promise<void> {
		this.stopping.add(id);
		try {
			await this.sessions.call(session, () => session.remote.shutdownKernel(id));
		} catch (error) {
			this.stopping.delete(id);
			throw error;
		}
		await this.dropForwarder(id);
	}

	/** The session ended: its forwarders cannot open tunnels any more. The kernels keep running on the server. */
	async sessionClosed(session: BridgeSession): Promise<void> {
		await Promise.all([...this.forwarded].filter(([, entry]) => entry.session === session).map(([id]) => this.dropForwarder(id)));
	}

	/** The bridge is exiting: detach from every kernel, or stop the ones Spyder used when asked to. */
	async closeAll(stopKernels: boolean): Promise<void> {
		const entries = [...this.forwarded];
		await Promise.all(entries.map(([id]) => this.dropForwarder(id)));
		// On exit: a kernel that cannot be stopped now (server gone) must not keep the others from stopping.
		if (stopKernels) await Promise.all(entries.map(([id, entry]) => this.shutdown(entry.session, id).catch(() => undefined)));
	}

	private async open(session: BridgeSession, kernel: Kernel): Promise<OpenedKernel> {
		// Forwarders of one kernel share the connection file's name and the comm port's number: the old one goes first.
		await this.dropForwarder(kernel.id);
		const forwarder = await this.sessions.call(session, () =>
			KernelForwarder.open(session.remote, kernel, {
				...(this.options.connectionDir ? { connectionDir: this.options.connectionDir } : {}),
				// While a kernel restarts, its sockets are gone and Spyder's reconnect every 100 ms: those failures say nothing.
				onError: (error) => {
					if (!this.restarting.has(kernel.id))
						void this.plugin.sendNotification(LogNotification.type, { level: 'warning', message: `kernel ${kernel.id}: ${error.message}` });
				},
			}),
		);
		this.forwarded.set(kernel.id, { session, forwarder });
		return this.opened(session, kernel, forwarder);
	}

	private opened(session: BridgeSession, kernel: Kernel, forwarder: KernelForwarder): OpenedKernel {
		return {
			kernel,
			connectionFile: forwarder.connectionFile,
			displayName: `${session.info.user ?? '?'}@${session.info.label}/${shortName(kernel.environment.name)}`,
		};
	}

	private async dropForwarder(id: string): Promise<void> {
		const entry = this.forwarded.get(id);
		if (!entry) return;
		this.forwarded.delete(id);
		await entry.forwarder.close();
	}
}

/** System environments are named by their interpreter's path; a console tab shows only its last part. */
function shortName(environmentName: string): string {
	return environmentName.includes('/') ? basename(environmentName) : environmentName;
}
