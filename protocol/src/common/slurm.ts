import { ProtocolNotificationType, ProtocolRequestType0 } from 'vscode-languageserver-protocol';
import { KernelId } from './kernels.js';
import { MessageDirection, type MessageMeta } from './messages.js';
import { SlurmJob } from './placement.js';
import { Type, type Static } from './schema.js';

const since = '0.1.0';

export const SlurmPartition = Type.Object({
	name: Type.String(),
	default: Type.Boolean({ description: 'Jobs that name no partition go here.' }),
	state: Type.String({ description: "Slurm's partition state, e.g. `UP`." }),
	maxTime: Type.String({ description: "The partition's time limit in Slurm's format, or `UNLIMITED`." }),
	defaultTime: Type.Optional(Type.String({ description: 'The time limit of a job that gives none.' })),
	nodes: Type.Integer({ minimum: 0 }),
	cpus: Type.Integer({ minimum: 0, description: 'CPUs in the partition, all nodes together.' }),
	maxMemoryPerNodeMB: Type.Optional(Type.Integer({ minimum: 0 })),
});
export type SlurmPartition = Static<typeof SlurmPartition>;

export const SlurmCapabilities = Type.Object({
	available: Type.Boolean({ description: "Whether the placement `slurm` can be used: Slurm's commands answer for this user and the server enables it." }),
	reason: Type.Optional(Type.String({ description: 'Why it is not available.' })),
	partitions: Type.Array(SlurmPartition, { description: 'The partitions this user can see, as `sinfo` and `scontrol show partition` show them to the user.' }),
	extraOptions: Type.Array(Type.String(), { description: "The sbatch option names (`--name`) a placement's extraOptions may use." }),
});
export type SlurmCapabilities = Static<typeof SlurmCapabilities>;

export const ServerCapabilitiesResult = Type.Object({ slurm: SlurmCapabilities });
export type ServerCapabilitiesResult = Static<typeof ServerCapabilitiesResult>;

/** What the server offers this user beyond `initialize`'s capabilities: facts only the user's own session host can learn. */
export namespace ServerCapabilitiesRequest {
	export const method = 'server/capabilities';
	export const messageDirection = MessageDirection.clientToServer;
	export const params = undefined;
	export const result = ServerCapabilitiesResult;
	export const type = new ProtocolRequestType0<ServerCapabilitiesResult, never, void, void>(method);
	export const meta: MessageMeta = {
		since,
		requiresLogin: true,
		errors: [],
		documentation:
			'Served by the session host, which runs `sinfo` and `scontrol` as the user, so that the partitions and limits are those the user would see in a shell.',
	};
}

export const KernelDidChangeJobParams = Type.Object({ id: KernelId, job: SlurmJob });
export type KernelDidChangeJobParams = Static<typeof KernelDidChangeJobParams>;

/** The Slurm job of a kernel changed phase or reason. */
export namespace KernelDidChangeJobNotification {
	export const method = 'kernel/didChangeJob';
	export const messageDirection = MessageDirection.serverToClient;
	export const params = KernelDidChangeJobParams;
	export const type = new ProtocolNotificationType<KernelDidChangeJobParams, void>(method);
	export const meta: MessageMeta = {
		since,
		requiresLogin: true,
		errors: [],
		documentation:
			"Sent to every connection of the user: `pending` with squeue's reason (and again when the reason changes), `starting`, `running`, then `failed` or `ended` with Slurm's state and reason.",
	};
}
