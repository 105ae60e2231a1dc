import { stat } from 'node:fs/promises';
import {
	ErrorCodes,
	KernelDidChangeStateNotification,
	type Kernel,
	type KernelChannel,
	type KernelKind,
	type KernelStartParams,
	type SlurmPlacement,
} from '@spyder-remote/protocol';
import { ResponseError } from 'vscode-jsonrpc/node';
import type { WarmPoolEntry } from '../../common/host-wire.js';
import type { EnvironmentCatalog } from '../environments/catalog.js';
import type { ScannedEnvironment } from '../environments/scan.js';
import { findOrphans } from './adoption.js';
import { channelSocket, scanCommPort } from './comm-port.js';
import { requireKernelPackage } from './kernel-package.js';
import { KernelLease } from './lease.js';
import { KernelLifecycle, type KernelLifecycleOptions } from './lifecycle.js';
import type { ManagedKernel } from './managed-kernel.js';
import { recordKernel } from './record.js';
import type { SlurmKernels } from './slurm/slurm-kernels.js';
import { WarmPool } from './warm-pool.js';

export interface KernelManagerOptions extends Omit<KernelLifecycleOptions, 'forget'> {
	readonly catalog: EnvironmentCatalog;
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
 * listening only on Unix sockets in a private directory (lifecycle.ts),
 * kept through disconnects for a lease (lease.ts), some started ahead of
 * time (warm-pool.ts). This is what the session host's handlers call.
 */
export class KernelManager {
	/** The listed kernels: started on request, taken from the warm pool, or adopted. */
	private readonly kernels = new Map<string, ManagedKernel>();
	private readonly lifecycle: KernelLifecycle;
	private readonly warmPool: WarmPool;
	private readonly lease: KernelLease;

	constructor(private readonly options: KernelManagerOptions) {
		this.lifecycle = new KernelLifecycle({ ...options, forget: (kernel) => this.forget(kernel) });
		this.warmPool = new WarmPool({
			entries: options.warmPool,
			catalog: options.catalog,
			logger: options.logger,
			launch: (environment, kind) => this.launchNew(environment, kind, options.home, {}, true),
			list: (kernel) => {
				this.kernels.set(kernel.id, kernel);
				this.options.broadcast(KernelDidChangeStateNotification.method, { id: kernel.id, state: kernel.state });
			},
		});
		this.lease = new KernelLease({
			leaseMs: options.leaseMs,
			onExpiry: () => {
				this.options.logger.info({ kernels: this.kernels.size }, 'kernel lease expired');
				void this.stopAll();
			},
		});
	}

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
		return channelSocket(this.require(id), channel);
	}

	async start(params: KernelStartParams): Promise<Kernel> {
		const environment = await this.options.catalog.find(params.environment);
		if (!environment) throw new ResponseError(ErrorCodes.EnvironmentNotFound, `no environment with id ${params.environment}`);
		const kind = params.kind ?? 'spyder';
		requireKernelPackage(environment, kind, params.spyderKernelsRange);
		const cwd = params.cwd ?? this.options.home;
		if (
			!(await stat(cwd).then(
				(info) => info.isDirectory(),
				() => false,
			))
		)
			throw new ResponseError(ErrorCodes.InvalidParams, `cwd ${cwd} is not a directory you can use`);
		const env = params.env ?? {};
		if (params.placement?.kind === 'slurm') {
			this.options.slurm.check(params.placement);
			return this.describe(await this.launchNew(environment, kind, cwd, env, false, params.placement));
		}
		// A warm kernel was started with the defaults; any other cwd or variables need a kernel of their own.
		const warm = cwd === this.options.home && Object.keys(env).length === 0 ? await this.warmPool.take(environment, kind) : undefined;
		if (warm) {
			// Listed now, it needs the record a warm kernel goes without, and the pool a replacement.
			await recordKernel(warm, this.options.logger);
			void this.warmPool.fill();
			return this.describe(warm);
		}
		const kernel = await this.launchNew(environment, kind, cwd, env, false);
		return this.describe(kernel);
	}

	/** Starts the warm-pool kernels that are missing (warm-pool.ts). */
	fillWarmPool(): Promise<void> {
		return this.warmPool.fill();
	}

	async interrupt(id: string): Promise<void> {
		this.lifecycle.interrupt(this.require(id));
	}

	async restart(id: string): Promise<Kernel> {
		const kernel = this.require(id);
		await this.lifecycle.restart(kernel);
		return this.describe(kernel);
	}

	async shutdown(id: string): Promise<void> {
		await this.lifecycle.stop(this.require(id));
	}

	/** The user's connection count changed: with none left, the lease starts; with one, it is cancelled. */
	connectionsChanged(count: number): void {
		this.lease.connectionsChanged(count, this.kernels.size);
	}

	/**
	 * Takes over the kernels an earlier host of this user left running
	 * (adoption.ts). They are listed again with their state, and the lease
	 * covers them like any other.
	 */
	async adoptOrphans(): Promise<void> {
		for (const orphan of await findOrphans(this.options.runtimeDirectory, this.options.logger)) {
			const kernel = this.lifecycle.adopt(orphan);
			this.kernels.set(kernel.id, kernel);
			await scanCommPort(kernel);
		}
	}

	/** Last resort when the host itself is going down hard: no kernel may outlive it unsupervised. */
	killAllNow(): void {
		for (const kernel of this.everyKernel()) this.lifecycle.killNow(kernel);
	}

	async stopAll(): Promise<void> {
		await Promise.all(this.everyKernel().map((kernel) => this.lifecycle.stop(kernel)));
	}

	private async launchNew(
		environment: ScannedEnvironment,
		kind: KernelKind,
		cwd: string,
		env: Record<string, string>,
		warm: boolean,
		slurm?: SlurmPlacement,
	): Promise<ManagedKernel> {
		const kernel = await this.lifecycle.prepare(environment, kind, cwd, env, warm);
		if (slurm) kernel.remote = this.options.slurm.runtimeFor(kernel, slurm);
		if (warm) this.warmPool.add(kernel);
		else this.kernels.set(kernel.id, kernel);
		await this.lifecycle.launchFirst(kernel);
		return kernel;
	}

	private everyKernel(): ManagedKernel[] {
		return [...this.kernels.values(), ...this.warmPool.all()];
	}

	private require(id: string): ManagedKernel {
		const kernel = this.kernels.get(id);
		if (!kernel) throw new ResponseError(ErrorCodes.KernelNotFound, `no kernel with id ${id}`);
		return kernel;
	}

	/** Unlists a kernel that is gone and removes its directory; with the last listed one gone, the lease ends and the host may go idle. */
	private async forget(kernel: ManagedKernel): Promise<void> {
		const listed = this.kernels.get(kernel.id) === kernel;
		if (!this.warmPool.remove(kernel)) {
			// Neither pooled nor listed: forgotten already, by the exit or the stop that came first.
			if (!listed) return kernel.removed;
			this.kernels.delete(kernel.id);
		}
		await this.lifecycle.discard(kernel);
		if (listed && this.kernels.size === 0) {
			this.lease.cancel();
			this.options.onEmpty();
		}
	}

	private describe(kernel: ManagedKernel): Kernel {
		const leaseExpiresAt = this.lease.expiresAt;
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
			...(leaseExpiresAt ? { leaseExpiresAt: leaseExpiresAt.toISOString() } : {}),
			...kernel.remote?.describe(),
		};
	}
}
