import { randomBytes } from 'node:crypto';
import { watch } from 'node:fs';
import { mkdir, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { execa } from 'execa';
import {
	ErrorCodes,
	KernelDidChangeStateNotification,
	KernelDidExitNotification,
	type Kernel,
	type KernelChannel,
	type KernelKind,
	type KernelStartParams,
	type KernelState,
} from '@spyder-remote/protocol';
import { ResponseError } from 'vscode-jsonrpc/node';
import { connectionFileIn, kernelsDirectory } from '../../common/runtime-layout.js';
import type { WarmPoolEntry } from '../../common/host-wire.js';
import type { Logger } from '../../common/log.js';
import { keepTail } from '../../common/output-tail.js';
import type { EnvironmentCatalog } from '../environments/catalog.js';
import { checkCompatibility, type ScannedEnvironment } from '../environments/scan.js';
import { parseVersionRange } from '../environments/version-range.js';
import { findOrphans } from './adoption.js';
import { channelPorts, kernelConnection } from './connection.js';
import { KernelClient } from './kernel-client.js';
import { signalKernel, spawnedProcess, type KernelExit, type KernelProcess } from './kernel-process.js';
import { kernelArguments } from '../../common/kernel-launcher.js';
import { managedKernel, type ManagedKernel } from './managed-kernel.js';
import { recordKernel } from './record.js';
import type { SlurmKernel } from './slurm/slurm-kernel.js';
import type { SlurmKernels } from './slurm/slurm-kernels.js';

const readyTimeoutMs = 60_000;
const shutdownGraceMs = 2_000;

export interface KernelManagerOptions {
	/** A 0700 directory of the user; each kernel gets `kernels/<id>/` below it. */
	readonly runtimeDirectory: string;
	readonly home: string;
	readonly catalog: EnvironmentCatalog;
	readonly logger: Logger;
	/** Sends a notification to every connection of the user. */
	readonly broadcast: (method: string, params: unknown) => void;
	/** How long kernels outlive the user's last connection. */
	readonly leaseMs: number;
	/** Called when the last kernel is gone, so the host may go idle. */
	readonly onEmpty: () => void;
	/** Kernels to keep started ahead of time, one per entry that names one of the user's environments. */
	readonly warmPool: readonly WarmPoolEntry[];
	/** Kernels placed in Slurm jobs (spec 6.15). */
	readonly slurm: SlurmKernels;
}

/**
 * The user's kernels: started as the user in one of their environments,
 * listening only on Unix sockets in a private directory, kept through
 * disconnects for a lease, stopped firmly (spyder-kernels 2.4 does not exit
 * on shutdown_request).
 */
export class KernelManager {
	private readonly kernels = new Map<string, ManagedKernel>();
	/** Warm kernels, starting or ready, by `<environment id>/<kind>`. */
	private readonly warmKernels = new Map<string, ManagedKernel>();
	/** Keys a fill has claimed and is starting a warm kernel for. */
	private readonly warming = new Set<string>();
	private leaseTimer: NodeJS.Timeout | undefined;
	private leaseExpiresAt: Date | undefined;

	constructor(private readonly options: KernelManagerOptions) {}

	get count(): number {
		return this.kernels.size;
	}

	list(): Kernel[] {
		return [...this.kernels.values()].map((kernel) => this.describe(kernel));
	}

	find(id: string): Kernel {
		return this.describe(this.require(id));
	}

	/** The Unix socket of one channel of one kernel, for the tunnel. */
	channelPath(id: string, channel: KernelChannel): string {
		const kernel = this.require(id);
		if (channel === 'comm') {
			if (kernel.commPort === undefined) throw new ResponseError(ErrorCodes.KernelUnavailable, `kernel ${id} has not opened its comm port`);
			return `${kernel.connection.ip}-${kernel.commPort}`;
		}
		return `${kernel.connection.ip}-${channelPorts[channel]}`;
	}

	async start(params: KernelStartParams): Promise<Kernel> {
		const environment = await this.options.catalog.find(params.environment);
		if (!environment) throw new ResponseError(ErrorCodes.EnvironmentNotFound, `no environment with id ${params.environment}`);
		const kind = params.kind ?? 'spyder';
		requireKernelPackage(environment, kind, params.spyderKernelsRange);
		const cwd = params.cwd ?? this.options.home;
		if (!(await stat(cwd).then((info) => info.isDirectory(), () => false))) throw new ResponseError(ErrorCodes.InvalidParams, `cwd ${cwd} is not a directory you can use`);
		const env = params.env ?? {};
		const slurm = params.placement?.kind === 'slurm' ? params.placement : undefined;
		if (slurm) {
			this.options.slurm.check(slurm);
			return this.describe(await this.launchNew(environment, kind, cwd, env, false, (kernel) => this.options.slurm.runtimeFor(kernel, slurm)));
		}
		// A warm kernel was started with the defaults; any other cwd or variables need a kernel of their own.
		const warm = cwd === this.options.home && Object.keys(env).length === 0 ? await this.takeWarm(environment, kind) : undefined;
		if (warm) return this.describe(warm);
		const kernel = await this.launchNew(environment, kind, cwd, env, false);
		return this.describe(kernel);
	}

	/**
	 * Starts the warm-pool kernels that are missing: one per entry that
	 * resolves to an environment of this user with the right package. Called
	 * when the host starts and whenever a warm kernel is taken or lost.
	 */
	async fillWarmPool(): Promise<void> {
		if (this.options.warmPool.length === 0) return;
		const environments = await this.options.catalog.list().catch(() => []);
		await Promise.all(
			this.options.warmPool.map(async (entry) => {
				const environment = environments.find((candidate) => candidate.name === entry.environment || candidate.prefix === entry.environment);
				if (!environment) return;
				const key = warmKey(environment.id, entry.kind);
				if (this.warmKernels.has(key) || this.warming.has(key)) return;
				try {
					requireKernelPackage(environment, entry.kind, undefined);
				} catch {
					return;
				}
				// Claimed before the first await: two fills at once (two kernels taken together) must not start two.
				this.warming.add(key);
				// A warm kernel that fails or dies is not replaced until the next one is taken: no restart loop.
				await this.launchNew(environment, entry.kind, this.options.home, {}, true)
					.catch((error: Error) => this.options.logger.warn({ err: error.message, environment: environment.prefix, kind: entry.kind }, 'warm kernel failed to start'))
					.finally(() => this.warming.delete(key));
			}),
		);
	}

	/** The warm kernel for this environment and kind, waiting for it if it is still starting: that is sooner than a new one. */
	private async takeWarm(environment: ScannedEnvironment, kind: KernelKind): Promise<ManagedKernel | undefined> {
		const key = warmKey(environment.id, kind);
		const kernel = this.warmKernels.get(key);
		// A warm kernel that failed to start was logged by fillWarmPool; here it is only not idle, so not taken.
		await kernel?.launched?.catch(() => undefined);
		// Another request may have taken it meanwhile, or it may have died.
		if (!kernel || this.warmKernels.get(key) !== kernel || kernel.state !== 'idle') return undefined;
		this.warmKernels.delete(key);
		kernel.warm = false;
		this.kernels.set(kernel.id, kernel);
		this.options.broadcast(KernelDidChangeStateNotification.method, { id: kernel.id, state: kernel.state });
		await recordKernel(kernel, this.options.logger);
		void this.fillWarmPool();
		return kernel;
	}

	private async launchNew(environment: ScannedEnvironment, kind: KernelKind, cwd: string, env: Record<string, string>, warm: boolean, placeRemotely?: (kernel: ManagedKernel) => SlurmKernel): Promise<ManagedKernel> {
		const id = randomBytes(8).toString('hex');
		const directory = join(kernelsDirectory(this.options.runtimeDirectory), id);
		await mkdir(directory, { recursive: true, mode: 0o700 });
		// Never empty: jupyter_client's default empty key means unsigned messages.
		const connection = kernelConnection(directory, kind, randomBytes(32).toString('hex'));
		await writeFile(connectionFileIn(directory), JSON.stringify(connection), { mode: 0o600 });
		const kernel = managedKernel({ id, kind, environment, cwd, env, directory, connection, state: 'starting', startedAt: new Date(), warm });
		kernel.remote = placeRemotely?.(kernel);
		if (warm) this.warmKernels.set(warmKey(environment.id, kind), kernel);
		else this.kernels.set(id, kernel);
		this.watchForCommPort(kernel);
		kernel.launched = this.launch(kernel).catch(async (error: unknown) => {
			await this.stop(kernel);
			throw error;
		});
		await kernel.launched;
		return kernel;
	}

	async interrupt(id: string): Promise<void> {
		const kernel = this.require(id);
		// Both supported kernels declare interrupt_mode "signal": SIGINT to the kernel process, not its group.
		signalKernel(kernel.process, 'SIGINT');
	}

	async restart(id: string): Promise<Kernel> {
		const kernel = this.require(id);
		kernel.restarting = true;
		this.setState(kernel, 'restarting');
		try {
			await this.terminate(kernel, true);
			await this.removeSockets(kernel);
			await this.launch(kernel);
		} catch (error) {
			await this.stop(kernel);
			throw error;
		} finally {
			kernel.restarting = false;
		}
		return this.describe(kernel);
	}

	async shutdown(id: string): Promise<void> {
		await this.stop(this.require(id));
	}

	/** The user's connection count changed: with none left, the lease starts; with one, it is cancelled. */
	connectionsChanged(count: number): void {
		clearTimeout(this.leaseTimer);
		this.leaseTimer = undefined;
		this.leaseExpiresAt = undefined;
		if (count > 0 || this.kernels.size === 0) return;
		this.leaseExpiresAt = new Date(Date.now() + this.options.leaseMs);
		this.leaseTimer = setTimeout(() => {
			this.options.logger.info({ kernels: this.kernels.size }, 'kernel lease expired');
			void this.stopAll();
		}, this.options.leaseMs);
	}

	/**
	 * Takes over the kernels an earlier host of this user left running
	 * (adoption.ts). They are listed again with their state, and the lease
	 * covers them like any other.
	 */
	async adoptOrphans(): Promise<void> {
		for (const orphan of await findOrphans(this.options.runtimeDirectory, this.options.logger)) {
			const { id, kind, environment, cwd, env, startedAt } = orphan.record;
			const kernel = managedKernel({ id, kind, environment, cwd, env, directory: orphan.directory, connection: orphan.connection, state: orphan.state, startedAt: new Date(startedAt), warm: false });
			this.kernels.set(id, kernel);
			this.supervise(kernel, orphan.process);
			this.follow(kernel, orphan.client);
			this.watchForCommPort(kernel);
			await this.scanCommPort(kernel);
		}
	}

	/** Last resort when the host itself is going down hard: no kernel may outlive it unsupervised. */
	killAllNow(): void {
		for (const kernel of this.everyKernel()) signalKernel(kernel.process, 'SIGKILL');
	}

	async stopAll(): Promise<void> {
		await Promise.all(this.everyKernel().map((kernel) => this.stop(kernel)));
	}

	private everyKernel(): ManagedKernel[] {
		return [...this.kernels.values(), ...this.warmKernels.values()];
	}

	private require(id: string): ManagedKernel {
		const kernel = this.kernels.get(id);
		if (!kernel) throw new ResponseError(ErrorCodes.KernelNotFound, `no kernel with id ${id}`);
		return kernel;
	}

	private describe(kernel: ManagedKernel): Kernel {
		return {
			id: kernel.id,
			kind: kernel.kind,
			environment: { id: kernel.environment.id, name: kernel.environment.name, prefix: kernel.environment.prefix },
			state: kernel.state,
			...(kernel.process?.pid !== undefined ? { pid: kernel.process.pid } : {}),
			startedAt: kernel.startedAt.toISOString(),
			cwd: kernel.cwd,
			connection: { key: kernel.connection.key, signatureScheme: 'hmac-sha256', kernelName: kernel.connection.kernel_name },
			...(kernel.commPort !== undefined ? { commPort: kernel.commPort } : {}),
			...(this.leaseExpiresAt ? { leaseExpiresAt: this.leaseExpiresAt.toISOString() } : {}),
			...kernel.remote?.describe(),
		};
	}

	private async launch(kernel: ManagedKernel): Promise<void> {
		const module = kernel.kind === 'spyder' ? 'spyder_kernels.console' : 'ipykernel_launcher';
		// spyder-kernels 2.4 creates its config directory without exist_ok: two kernels starting at once for a new account race, and one dies.
		// If it cannot be made, the kernel fails to start with its own error in stderrTail.
		if (kernel.kind === 'spyder') await mkdir(join(this.options.home, '.config', 'spyder-py3'), { recursive: true }).catch(() => undefined);
		kernel.startedAt = new Date();
		const kernelProcess = kernel.remote ? await kernel.remote.start() : this.spawnLocal(kernel, module);
		this.supervise(kernel, kernelProcess);
		await recordKernel(kernel, this.options.logger);
		const died = kernelProcess.exited.then(() => {
			throw new ResponseError(ErrorCodes.KernelFailed, `the kernel exited during start-up: ${kernel.stderrTail.slice(-5).join(' | ') || 'no output'}`, { stderrTail: kernel.stderrTail });
		});
		const client = await Promise.race([KernelClient.connect(kernel.connection, { connectTimeoutMs: readyTimeoutMs, iopubTopic: 'kernel.' }), died]).catch((error: Error) => {
			throw error instanceof ResponseError ? error : new ResponseError(ErrorCodes.KernelFailed, `the kernel did not open its sockets: ${error.message}`, { stderrTail: kernel.stderrTail });
		});
		this.follow(kernel, client);
		await Promise.race([client.waitReady(readyTimeoutMs), died]).catch((error: Error) => {
			throw error instanceof ResponseError ? error : new ResponseError(ErrorCodes.KernelFailed, `the kernel did not become ready: ${error.message}`, { stderrTail: kernel.stderrTail });
		});
		if (opensCommPort(kernel)) await this.findCommPort(kernel);
		this.setState(kernel, 'idle');
	}

	private spawnLocal(kernel: ManagedKernel, module: 'spyder_kernels.console' | 'ipykernel_launcher'): KernelProcess {
		const child = execa(kernel.environment.python, kernelArguments(module, kernel.connectionFile), {
			cwd: kernel.cwd,
			env: kernel.env,
			stdin: 'ignore',
			stdout: 'ignore',
			buffer: false,
			reject: false,
			// A group of its own: shutdown reaches anything the user's code started.
			detached: true,
		});
		kernel.stderrTail = keepTail(child.stderr!);
		return spawnedProcess(child);
	}

	private supervise(kernel: ManagedKernel, kernelProcess: KernelProcess): void {
		kernel.process = kernelProcess;
		void kernelProcess.exited.then((exit) => this.exited(kernel, kernelProcess, exit));
	}

	private follow(kernel: ManagedKernel, client: KernelClient): void {
		kernel.client = client;
		client.onStatus((state) => {
			if (!kernel.restarting && !kernel.stopping && (state === 'busy' || state === 'idle')) this.setState(kernel, state);
		});
	}

	private exited(kernel: ManagedKernel, kernelProcess: KernelProcess, { exitCode, signal, reason }: KernelExit): void {
		if (kernel.process !== kernelProcess) return;
		kernel.client?.close();
		kernel.client = undefined;
		if (kernel.warm) {
			this.setState(kernel, 'dead');
			void this.forget(kernel);
			return;
		}
		this.options.broadcast(KernelDidExitNotification.method, {
			id: kernel.id,
			...(exitCode !== undefined ? { exitCode } : {}),
			...(signal ? { signal } : {}),
			stderrTail: kernel.stderrTail,
			restarting: kernel.restarting,
			...(reason ? { reason } : {}),
		});
		if (kernel.restarting) return;
		this.setState(kernel, 'dead');
		void this.forget(kernel);
	}

	/** shutdown_request, then SIGTERM to the group after a grace period, then SIGKILL. */
	private async terminate(kernel: ManagedKernel, restart: boolean): Promise<void> {
		const child = kernel.process;
		if (!child?.running) return;
		const exited = child.exited.then(() => true);
		const within = (ms: number) => Promise.race([exited, new Promise<false>((resolve) => setTimeout(() => resolve(false), ms))]);
		// spyder-kernels 2.4 does not exit on shutdown_request, and the shutdown_reply it broadcasts on
		// IOPub lacks `restart` (its do_shutdown returns None). qtconsole-based frontends, Spyder among
		// them, read that as "shut down for good" and close their console. A restart skips to SIGTERM.
		const askFirst = !(restart && kernel.kind === 'spyder');
		if (askFirst) {
			// Unanswered or refused, the request is only the polite first step: SIGTERM follows.
			await kernel.client?.shutdown(restart, { timeoutMs: shutdownGraceMs }).catch((error: Error) => this.options.logger.debug({ kernel: kernel.id, reason: error.message }, 'shutdown_request failed; signalling the kernel'));
			if (await within(shutdownGraceMs)) return;
		}
		signalKernel(child, 'SIGTERM');
		if (await within(shutdownGraceMs)) return;
		signalKernel(child, 'SIGKILL');
		await exited;
	}

	private async stop(kernel: ManagedKernel): Promise<void> {
		kernel.stopping = true;
		await this.terminate(kernel, false);
		await this.forget(kernel);
	}

	private async forget(kernel: ManagedKernel): Promise<void> {
		const key = warmKey(kernel.environment.id, kernel.kind);
		const listed = this.kernels.get(kernel.id) === kernel;
		if (this.warmKernels.get(key) === kernel) this.warmKernels.delete(key);
		else if (listed) this.kernels.delete(kernel.id);
		else return kernel.removed;
		kernel.watcher?.close();
		kernel.client?.close();
		await kernel.remote?.release();
		kernel.removed = rm(kernel.directory, { recursive: true, force: true });
		await kernel.removed;
		if (listed && this.kernels.size === 0) {
			clearTimeout(this.leaseTimer);
			this.leaseExpiresAt = undefined;
			this.options.onEmpty();
		}
	}

	private setState(kernel: ManagedKernel, state: KernelState): void {
		if (kernel.state === state) return;
		kernel.state = state;
		if (!kernel.warm) this.options.broadcast(KernelDidChangeStateNotification.method, { id: kernel.id, state });
	}

	private async removeSockets(kernel: ManagedKernel): Promise<void> {
		for (const entry of await readdir(kernel.directory).catch(() => [])) {
			if (entry.startsWith('kernel-')) await rm(join(kernel.directory, entry), { force: true });
		}
		kernel.commPort = undefined;
	}

	/**
	 * spyder-kernels 2.x binds one more socket at start, its comm port, as
	 * `<ip>-<port>` with a port number of its choosing; Spyder learns the
	 * number from a comm message and connects to it. The forwarder needs it.
	 */
	private watchForCommPort(kernel: ManagedKernel): void {
		if (!opensCommPort(kernel)) return;
		try {
			kernel.watcher = watch(kernel.directory, { persistent: false }, () => void this.scanCommPort(kernel));
		} catch {
			// The scan after readiness still finds it.
		}
	}

	private async scanCommPort(kernel: ManagedKernel): Promise<void> {
		const known = new Set(Object.values(channelPorts).map(String));
		for (const entry of await readdir(kernel.directory).catch(() => [])) {
			const port = /^kernel-(\d+)$/.exec(entry)?.[1];
			if (port && !known.has(port)) kernel.commPort = Number(port);
		}
	}

	private async findCommPort(kernel: ManagedKernel): Promise<void> {
		for (let attempt = 0; attempt < 20 && kernel.commPort === undefined; attempt += 1) {
			await this.scanCommPort(kernel);
			if (kernel.commPort === undefined) await new Promise((resolve) => setTimeout(resolve, 50));
		}
	}
}

/**
 * Only spyder-kernels 2.x has a comm port; 3.x (Spyder 6) sends its comms
 * as Jupyter comm messages on the standard channels, so there is nothing
 * to wait for. A kernel of unknown version is treated as 2.x: the wait
 * then costs at most a second.
 */
function opensCommPort(kernel: ManagedKernel): boolean {
	return kernel.kind === 'spyder' && !/^[3-9]\./.test(kernel.environment.spyderKernels ?? '');
}

function warmKey(environmentId: string, kind: KernelKind): string {
	return `${environmentId}/${kind}`;
}

/** Refuses at once, naming environment, package and range, what would otherwise be a start-up timeout. */
function requireKernelPackage(environment: ScannedEnvironment, kind: KernelKind, range: string | undefined): void {
	const where = `environment ${environment.name} (${environment.prefix})`;
	if (environment.broken) throw new ResponseError(ErrorCodes.KernelUnavailable, `${where} is broken: ${environment.broken}`);
	if (kind === 'ipykernel') {
		if (!environment.ipykernel) throw new ResponseError(ErrorCodes.KernelUnavailable, `${where} has no ipykernel; install it there first`);
		return;
	}
	if (!environment.spyderKernels) {
		throw new ResponseError(ErrorCodes.KernelUnavailable, `${where} has no spyder-kernels${range ? `; Spyder needs spyder-kernels ${range}` : ''}`);
	}
	if (range) {
		let compatibility;
		try {
			compatibility = checkCompatibility(parseVersionRange(range), environment.spyderKernels, undefined);
		} catch (error) {
			throw new ResponseError(ErrorCodes.InvalidParams, `spyderKernelsRange: ${(error as Error).message}`);
		}
		if (!compatibility.ok) throw new ResponseError(ErrorCodes.KernelUnavailable, `${where}: ${compatibility.reason}`);
	}
}
