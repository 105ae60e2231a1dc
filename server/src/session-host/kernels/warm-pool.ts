/**
 * The warm pool: kernels started ahead of time, one per configured entry
 * that names one of the user's environments, so that a kernel/start with
 * the defaults gets a ready kernel at once. A warm kernel is not listed and
 * sends no notifications until it is taken.
 */
import type { KernelKind } from '@spyder-remote/protocol';
import type { WarmPoolEntry } from '../../common/host-wire.js';
import type { Logger } from '../../common/log.js';
import type { EnvironmentCatalog } from '../environments/catalog.js';
import type { ScannedEnvironment } from '../environments/scan.js';
import { requireKernelPackage } from './kernel-package.js';
import type { ManagedKernel } from './managed-kernel.js';

export interface WarmPoolOptions {
	readonly entries: readonly WarmPoolEntry[];
	readonly catalog: EnvironmentCatalog;
	readonly logger: Logger;
	/** Starts a warm kernel with the defaults; it is to be added here before its launch is awaited. */
	readonly launch: (environment: ScannedEnvironment, kind: KernelKind) => Promise<ManagedKernel>;
	/** Lists a kernel taken from the pool, in the same turn as it leaves it: an exit in between would find it nowhere. */
	readonly list: (kernel: ManagedKernel) => void;
}

export class WarmPool {
	/** Warm kernels, starting or ready, by `<environment id>/<kind>`. */
	private readonly kernels = new Map<string, ManagedKernel>();
	/** Keys a fill has claimed and is starting a warm kernel for. */
	private readonly warming = new Set<string>();

	constructor(private readonly options: WarmPoolOptions) {}

	/**
	 * Starts the warm kernels that are missing: one per entry that resolves
	 * to an environment of this user with the right package. Called when the
	 * host starts and whenever a warm kernel is taken or lost.
	 */
	async fill(): Promise<void> {
		if (this.options.entries.length === 0) return;
		const environments = await this.options.catalog.list().catch(() => []);
		await Promise.all(
			this.options.entries.map(async (entry) => {
				const environment = environments.find((candidate) => candidate.name === entry.environment || candidate.prefix === entry.environment);
				if (!environment) return;
				const key = warmKey(environment.id, entry.kind);
				if (this.kernels.has(key) || this.warming.has(key)) return;
				try {
					requireKernelPackage(environment, entry.kind, undefined);
				} catch {
					return;
				}
				// Claimed before the first await: two fills at once (two kernels taken together) must not start two.
				this.warming.add(key);
				// A warm kernel that fails or dies is not replaced until the next one is taken: no restart loop.
				await this.options
					.launch(environment, entry.kind)
					.catch((error: Error) =>
						this.options.logger.warn({ err: error.message, environment: environment.prefix, kind: entry.kind }, 'warm kernel failed to start'),
					)
					.finally(() => this.warming.delete(key));
			}),
		);
	}

	add(kernel: ManagedKernel): void {
		this.kernels.set(warmKey(kernel.environment.id, kernel.kind), kernel);
	}

	/** Takes the kernel out of the pool; whether it was in it. */
	remove(kernel: ManagedKernel): boolean {
		const key = warmKey(kernel.environment.id, kernel.kind);
		if (this.kernels.get(key) !== kernel) return false;
		this.kernels.delete(key);
		return true;
	}

	/** The warm kernel for this environment and kind, moved from the pool to the list; waited for if it is still starting, which is sooner than a new one. */
	async take(environment: ScannedEnvironment, kind: KernelKind): Promise<ManagedKernel | undefined> {
		const key = warmKey(environment.id, kind);
		const kernel = this.kernels.get(key);
		// A warm kernel that failed to start was logged by fill; here it is only not idle, so not taken.
		await kernel?.launched?.catch(() => undefined);
		// Another request may have taken it meanwhile, or it may have died.
		if (!kernel || this.kernels.get(key) !== kernel || kernel.state !== 'idle') return undefined;
		this.kernels.delete(key);
		kernel.warm = false;
		this.options.list(kernel);
		return kernel;
	}

	all(): ManagedKernel[] {
		return [...this.kernels.values()];
	}
}

function warmKey(environmentId: string, kind: KernelKind): string {
	return `${environmentId}/${kind}`;
}
