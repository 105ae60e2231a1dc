import type { FSWatcher } from 'node:fs';
import type { KernelKind, KernelState } from '@spyder-remote/protocol';
import { connectionFileIn } from '../../common/runtime-layout.js';
import type { ScannedEnvironment } from '../environments/scan.js';
import type { KernelConnection } from './connection.js';
import type { KernelClient } from './kernel-client.js';
import type { KernelProcess } from './kernel-process.js';
import type { SlurmKernel } from './slurm/slurm-kernel.js';

/** One kernel as the manager keeps it: started by this host, or adopted from an earlier one. */
export interface ManagedKernel {
	readonly id: string;
	readonly kind: KernelKind;
	/** What a restart needs, as it was at start: an adopted kernel's environment is known only from its record. */
	readonly environment: Pick<ScannedEnvironment, 'id' | 'name' | 'prefix' | 'python' | 'spyderKernels'>;
	readonly cwd: string;
	readonly env: Record<string, string>;
	readonly directory: string;
	readonly connectionFile: string;
	readonly connection: KernelConnection;
	state: KernelState;
	startedAt: Date;
	process: KernelProcess | undefined;
	client: KernelClient | undefined;
	commPort: number | undefined;
	restarting: boolean;
	stopping: boolean;
	stderrTail: readonly string[];
	watcher: FSWatcher | undefined;
	/** Set for a kernel placed in a Slurm job: it starts, signals and ends the kernel on the node. */
	remote: SlurmKernel | undefined;
	/** A warm-pool kernel nobody has asked for yet: not listed, and no notifications about it. */
	warm: boolean;
	/** Settles when the first launch is ready, or has failed and the kernel is stopped. */
	launched: Promise<void> | undefined;
	/** Settles when the kernel is forgotten and its directory removed: a shutdown that finds its exit seen first waits for it too. */
	removed: Promise<void> | undefined;
}

/** A kernel not launched or adopted yet. */
export function managedKernel(
	fields: Pick<ManagedKernel, 'id' | 'kind' | 'environment' | 'cwd' | 'env' | 'directory' | 'connection' | 'state' | 'startedAt' | 'warm'>,
): ManagedKernel {
	return {
		...fields,
		connectionFile: connectionFileIn(fields.directory),
		process: undefined,
		client: undefined,
		commPort: undefined,
		restarting: false,
		stopping: false,
		stderrTail: [],
		watcher: undefined,
		remote: undefined,
		launched: undefined,
		removed: undefined,
	};
}
