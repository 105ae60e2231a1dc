/**
 * The daemon-to-session-host wire: everything the two processes say to each
 * other, in one place. None of it is public protocol; it travels only on the
 * host's stdin and argv and on its local socket, before a client's relayed
 * bytes. The daemon is root and the host is the user: each item below says
 * which side may trust what.
 */
import { Type, type Static } from '@spyder-remote/protocol';
import type { InitializeParams } from '@spyder-remote/protocol';
import type { FramingLimits } from '@spyder-remote/protocol/node';

/**
 * What a session host writes first on every connection, followed by its
 * secret (given on its stdin) and a newline. The socket lies in a directory
 * the user owns, so only this proves to the daemon that the genuine host answers.
 */
export const HOST_GREETING = 'SSD-HOST ';

/**
 * The signal by which the daemon tells a host that it restarts (systemctl
 * restart): the host exits at once and leaves its kernels running, with
 * their records, for the host the next daemon starts to adopt. SIGTERM
 * still means a stop: the host stops its kernels first.
 */
export const HAND_OVER_SIGNAL = 'SIGUSR2';

/** How the daemon starts a tunnel hand-over on a host connection; anything else there is JSON-RPC. */
export const TUNNEL_PREFIX = 'TUNNEL ';

const HomePath = Type.String({ minLength: 1, maxLength: 4096, pattern: '^(/|~/|~$)', description: "Absolute, or `~/…` for the user's home." });

/** What the session host is told about environments; it expands `~` to the user's home. */
export const EnvironmentSettingsSchema = Type.Object(
	{
		venvRoots: Type.Array(HomePath, { description: 'Directories whose children with a pyvenv.cfg are venvs; new venvs go in the first.' }),
		extraPaths: Type.Array(HomePath, { description: 'More environment prefixes to list.' }),
		systemInterpreters: Type.Array(Type.String({ pattern: '^/' }), { description: 'System Python executables to list.' }),
		administer: Type.Union([Type.Literal('owned'), Type.Literal('writable'), Type.Literal('none')], {
			description: 'Which environments a user may install into or remove: those whose prefix they own, those they can write, or none.',
		}),
		create: Type.Array(Type.Union([Type.Literal('venv'), Type.Literal('conda')]), { uniqueItems: true, description: 'Kinds of environment users may create.' }),
		allowedPathRoots: Type.Array(HomePath, { description: 'Local packages may be installed only from below these.' }),
	},
	{ additionalProperties: false },
);
export type EnvironmentSettings = Static<typeof EnvironmentSettingsSchema>;

export const WarmPoolEntrySchema = Type.Object(
	{
		environment: Type.String({
			minLength: 1,
			maxLength: 4096,
			description: 'An environment name (as environment/list shows it) or prefix; entries a user has no such environment for are skipped.',
		}),
		kind: Type.Union([Type.Literal('spyder'), Type.Literal('ipykernel')]),
	},
	{ additionalProperties: false },
);
export type WarmPoolEntry = Static<typeof WarmPoolEntrySchema>;

export const SlurmSettingsSchema = Type.Object(
	{
		enabled: Type.Boolean({ description: "Offer the placement `slurm` when Slurm's commands answer for the user." }),
		dialAddress: Type.Optional(
			Type.String({
				pattern: '^[A-Za-z0-9_.:][A-Za-z0-9_.:-]{0,254}$',
				description:
					"The address node agents dial back to; default: the job's `SLURM_SUBMIT_HOST`. Set it where the nodes know the login node by another name.",
			}),
		),
		extraOptions: Type.Array(Type.String({ pattern: '^--[a-z][a-z0-9-]{0,39}$' }), {
			maxItems: 64,
			description: "The sbatch options (`--name`) a placement's extraOptions may use; empty allows none.",
		}),
		jobName: Type.String({ pattern: '^[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}$', description: 'The job name (`--job-name`) of kernel jobs.' }),
		output: Type.String({
			minLength: 1,
			maxLength: 4096,
			pattern: '^/[^\\x00\\n]*$',
			description: "Where a kernel job's output goes (`--output`, Slurm's filename patterns such as `%j` apply).",
		}),
	},
	{ additionalProperties: false },
);
export type SlurmSettings = Static<typeof SlurmSettingsSchema>;

/** Everything the daemon tells a session host at start, as one JSON argument (`--settings`). */
export interface SessionHostSettings {
	readonly limits: FramingLimits;
	/** Seconds without connections (and, later, kernels) before the host exits. */
	readonly idleTimeout: number;
	readonly logLevel: string;
	/** Mirrors the daemon's announced keyRegistration capability. */
	readonly keyRegistration: boolean;
	readonly environments: EnvironmentSettings;
	/** Seconds kernels outlive the user's last connection. */
	readonly kernelLease: number;
	/** The server's `kernels.warmPool`: kernels each user's host keeps started ahead of time. */
	readonly warmPool: readonly WarmPoolEntry[];
	readonly slurm: SlurmSettings;
	/** What a node agent needs to dial back to this daemon (spec 6.15). */
	readonly nodeAgentDial: { readonly port: number; readonly fingerprint: string };
}

/** The daemon's first message on a relayed connection, describing it for the host's log. */
export namespace AttachNotification {
	export const method = 'sessionHost/attach';
	export interface Params {
		/** The client's address as the daemon saw it. */
		readonly peer: string;
		readonly authMethod: 'password' | 'publicKey';
		readonly initialize: InitializeParams;
	}
}
