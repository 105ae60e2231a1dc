import { ErrorCodes, type SlurmCapabilities, type SlurmPlacement } from '@spyder-remote/protocol';
import { ResponseError } from 'vscode-jsonrpc/node';
import type { SessionHostSettings, SlurmSettings } from '../../../common/host-wire.js';
import type { Logger } from '../../../common/log.js';
import { NODE_AGENT_ENTRY } from '../../../common/node-link.js';
import type { ManagedKernel } from '../managed-kernel.js';
import type { AgentLinks } from './agent-links.js';
import { sbatchArguments } from './sbatch-arguments.js';
import { listPartitions } from './slurm-commands.js';
import { SlurmKernel } from './slurm-kernel.js';

/** What every Slurm kernel of this host shares. */
export interface SlurmContext {
	readonly settings: SlurmSettings;
	readonly dial: SessionHostSettings['nodeAgentDial'];
	readonly links: AgentLinks;
	readonly broadcast: (method: string, params: unknown) => void;
	/** The node agent's entry point, run by the job's batch script. */
	readonly agentEntry: string;
}

/** The placement `slurm` of this host: whether it is offered, and a runtime for each kernel placed there. */
export class SlurmKernels {
	private readonly context: SlurmContext;

	constructor(
		settings: SlurmSettings,
		dial: SessionHostSettings['nodeAgentDial'],
		links: AgentLinks,
		broadcast: SlurmContext['broadcast'],
		private readonly logger: Logger,
	) {
		this.context = { settings, dial, links, broadcast, agentEntry: NODE_AGENT_ENTRY };
	}

	/** Slurm as this user sees it: `sinfo` answering is what makes it available. */
	async capabilities(): Promise<SlurmCapabilities> {
		const extraOptions = [...this.context.settings.extraOptions];
		if (!this.context.settings.enabled)
			return { available: false, reason: 'the server does not offer Slurm (slurm.enabled is false)', partitions: [], extraOptions };
		try {
			const partitions = (await listPartitions()).map(({ memoryMB, defaultTime, ...partition }) => ({
				...partition,
				...(defaultTime && defaultTime !== 'n/a' ? { defaultTime } : {}),
				...(memoryMB !== undefined ? { maxMemoryPerNodeMB: memoryMB } : {}),
			}));
			return { available: true, partitions, extraOptions };
		} catch (error) {
			return { available: false, reason: (error as Error).message, partitions: [], extraOptions };
		}
	}

	/** Checks a placement before anything is made for it: bad options fail at once, as does a server without Slurm. */
	check(placement: SlurmPlacement): void {
		sbatchArguments(placement, this.context.settings);
		if (!this.context.settings.enabled)
			throw new ResponseError(ErrorCodes.KernelUnavailable, 'this server does not offer Slurm placement (slurm.enabled is false)');
	}

	runtimeFor(kernel: ManagedKernel, placement: SlurmPlacement): SlurmKernel {
		return new SlurmKernel(kernel, placement, this.context, this.logger.child({ kernel: kernel.id }));
	}
}
