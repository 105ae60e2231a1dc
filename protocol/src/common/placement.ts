import { Type, type Static } from './schema.js';

/**
 * Where a kernel runs. Every Slurm field reaches sbatch as one argument of
 * the form `--name=value`, and its pattern keeps it a plain value anyway:
 * nothing may start with `-`, hold `=` or whitespace, or run long.
 */
const SlurmName = (description: string) => Type.String({ pattern: '^[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}$', description });

export const SlurmExtraOption = Type.String({
	pattern: '^--[a-z][a-z0-9-]{0,39}(=[A-Za-z0-9_][A-Za-z0-9_:.,/+@%-]{0,127})?$',
	description: "One sbatch option as `--name` or `--name=value`. Only the names in the server's `slurm.extraOptions` are accepted.",
});

export const SlurmPlacement = Type.Object(
	{
		kind: Type.Literal('slurm'),
		partition: Type.Optional(SlurmName("The partition (`--partition`); default: the cluster's default partition.")),
		timeLimit: Type.Optional(
			Type.String({
				pattern: '^([0-9]{1,7}(:[0-9]{1,2}){0,2}|[0-9]{1,4}-[0-9]{1,2}(:[0-9]{1,2}){0,2})$',
				description: 'Slurm time format (`--time`): `M`, `M:S`, `H:M:S`, `D-H`, `D-H:M` or `D-H:M:S`.',
			}),
		),
		cpus: Type.Optional(Type.Integer({ minimum: 1, maximum: 4096, description: 'CPUs for the kernel (`--cpus-per-task`).' })),
		memory: Type.Optional(
			Type.String({ pattern: '^[1-9][0-9]{0,8}[KMGT]?$', description: 'Memory for the job (`--mem`), e.g. `4G`; without a unit, megabytes.' }),
		),
		gres: Type.Optional(Type.String({ pattern: '^[A-Za-z0-9_][A-Za-z0-9_:.,]{0,127}$', description: 'Generic resources (`--gres`), e.g. `gpu:1`.' })),
		account: Type.Optional(SlurmName('The account charged (`--account`).')),
		qos: Type.Optional(SlurmName('Quality of service (`--qos`).')),
		extraOptions: Type.Optional(Type.Array(SlurmExtraOption, { maxItems: 16 })),
	},
	{ additionalProperties: false },
);
export type SlurmPlacement = Static<typeof SlurmPlacement>;

export const LocalPlacement = Type.Object({ kind: Type.Literal('local') }, { additionalProperties: false });

export const Placement = Type.Union([LocalPlacement, SlurmPlacement], {
	description: '`local` (the default) runs the kernel beside the session host; `slurm` submits it as a batch job of the user.',
});
export type Placement = Static<typeof Placement>;

export const SlurmJobPhase = Type.Union(
	[Type.Literal('pending'), Type.Literal('starting'), Type.Literal('running'), Type.Literal('failed'), Type.Literal('ended')],
	{
		description:
			'`pending`: queued; `starting`: allocated, the node agent has not called back yet; `running`: the agent is connected; `failed`/`ended`: the job is over.',
	},
);

export const SlurmJob = Type.Object({
	jobId: Type.String({ pattern: '^[0-9]{1,12}$' }),
	phase: SlurmJobPhase,
	state: Type.Optional(Type.String({ maxLength: 64, description: "Slurm's job state, e.g. `PENDING`, `RUNNING`, `TIMEOUT`." })),
	reason: Type.Optional(Type.String({ maxLength: 1024, description: "Slurm's reason, e.g. `Priority`, `Resources`, `TimeLimit`." })),
	node: Type.Optional(Type.String({ maxLength: 256, description: 'The node the job runs on.' })),
});
export type SlurmJob = Static<typeof SlurmJob>;

/** ALPN id of a node agent's dial-back connection: one line holding a one-use token, then the agent link. */
export const NODE_AGENT_ALPN_PROTOCOL = 'spyder-remote-node/1';
