import { ProtocolNotificationType, ProtocolRequestType, ProtocolRequestType0 } from 'vscode-languageserver-protocol';
import { EnvironmentId, VersionRange } from './environments.js';
import { ErrorCodes } from './errors.js';
import { MessageDirection, type MessageMeta } from './messages.js';
import { Placement, SlurmJob } from './placement.js';
import { Type, type Static } from './schema.js';

const since = '0.1.0';

export const KernelId = Type.String({ pattern: '^[0-9a-f]{16}$', description: 'Stable for the life of the kernel, restarts included.' });
export const KernelKind = Type.Union([Type.Literal('spyder'), Type.Literal('ipykernel')], {
	description: '`spyder` runs `python -m spyder_kernels.console`, `ipykernel` runs `python -m ipykernel_launcher`.',
});
export type KernelKind = Static<typeof KernelKind>;
export const KernelState = Type.Union([Type.Literal('starting'), Type.Literal('idle'), Type.Literal('busy'), Type.Literal('restarting'), Type.Literal('dead')]);
export type KernelState = Static<typeof KernelState>;
export const KernelChannel = Type.Union(
	[Type.Literal('shell'), Type.Literal('iopub'), Type.Literal('stdin'), Type.Literal('control'), Type.Literal('hb'), Type.Literal('comm')],
	{
		description: "The five Jupyter channels, and spyder-kernels' comm port (once the kernel has opened it).",
	},
);
export type KernelChannel = Static<typeof KernelChannel>;

export const Kernel = Type.Object({
	id: KernelId,
	kind: KernelKind,
	environment: Type.Object({ id: EnvironmentId, name: Type.String(), prefix: Type.String() }),
	state: KernelState,
	pid: Type.Optional(Type.Integer()),
	startedAt: Type.String({ description: 'ISO 8601 time of the last (re)start.' }),
	cwd: Type.String(),
	/** What a Jupyter client needs besides addresses: the forwarder writes these into its connection file. */
	connection: Type.Object({
		key: Type.String({ description: 'HMAC-SHA256 key of the kernel, hex. Never empty.' }),
		signatureScheme: Type.Literal('hmac-sha256'),
		kernelName: Type.String(),
	}),
	commPort: Type.Optional(
		Type.Integer({ description: 'spyder-kernels 2.x: the port number the kernel announces for its comm socket; the forwarder listens on it locally.' }),
	),
	leaseExpiresAt: Type.Optional(Type.String({ description: 'Set while no connection of the user is open: when the kernel will be shut down.' })),
	placement: Type.Optional(Placement),
	job: Type.Optional(SlurmJob),
});
export type Kernel = Static<typeof Kernel>;

const EnvironmentVariables = Type.Record(
	Type.String({ pattern: '^[A-Za-z_][A-Za-z0-9_]{0,127}$' }),
	Type.String({ maxLength: 32_768, pattern: '^[^\\x00]*$' }),
	{
		maxProperties: 100,
		additionalProperties: false,
		description: 'Extra environment variables for the kernel.',
	},
);

export const KernelStartParams = Type.Object({
	environment: EnvironmentId,
	kind: Type.Optional(KernelKind),
	cwd: Type.Optional(Type.String({ maxLength: 4096, pattern: '^/[^\\x00]*$', description: "Working directory; default the user's home." })),
	env: Type.Optional(EnvironmentVariables),
	spyderKernelsRange: Type.Optional(VersionRange),
	placement: Type.Optional(Placement),
});
export type KernelStartParams = Static<typeof KernelStartParams>;
export const KernelResult = Type.Object({ kernel: Kernel });
export type KernelResult = Static<typeof KernelResult>;
export const KernelIdParams = Type.Object({ id: KernelId });
export type KernelIdParams = Static<typeof KernelIdParams>;

/** Starts a kernel as the user in one of their environments. */
export namespace KernelStartRequest {
	export const method = 'kernel/start';
	export const messageDirection = MessageDirection.clientToServer;
	export const params = KernelStartParams;
	export const result = KernelResult;
	export const type = new ProtocolRequestType<KernelStartParams, KernelResult, never, void, void>(method);
	export const meta: MessageMeta = {
		since,
		requiresLogin: true,
		errors: [ErrorCodes.EnvironmentNotFound, ErrorCodes.KernelUnavailable, ErrorCodes.KernelFailed, ErrorCodes.InvalidParams],
		documentation:
			'The kernel listens only on Unix sockets (`--transport=ipc`) in a 0700 directory of the user, with a random 32-byte HMAC key. ' +
			'An environment without spyder-kernels (or ipykernel), or with a version outside spyderKernelsRange, fails at once with KernelUnavailable naming the environment, the package and the range. ' +
			'The result comes once the kernel answered kernel_info and its IOPub stream is flowing. ' +
			'With placement `slurm` the kernel runs in a batch job of the user on a compute node (section 6.14): kernel/didChangeJob reports the job while it waits, and kernel/shutdown cancels it.',
	};
}

export const KernelListResult = Type.Object({ kernels: Type.Array(Kernel) });
export type KernelListResult = Static<typeof KernelListResult>;

/** The user's running kernels, including those started by other or earlier connections. */
export namespace KernelListRequest {
	export const method = 'kernel/list';
	export const messageDirection = MessageDirection.clientToServer;
	export const params = undefined;
	export const result = KernelListResult;
	export const type = new ProtocolRequestType0<KernelListResult, never, void, void>(method);
	export const meta: MessageMeta = {
		since,
		requiresLogin: true,
		errors: [],
		documentation: 'Kernels outlive connections for the configured lease; a new login sees them here.',
	};
}

function kernelRequest(method: string, documentation: string, errors: number[] = [ErrorCodes.KernelNotFound]) {
	return {
		method,
		messageDirection: MessageDirection.clientToServer,
		params: KernelIdParams,
		meta: { since, requiresLogin: true, errors, documentation } satisfies MessageMeta,
	};
}

/** Interrupts the running cell. */
export namespace KernelInterruptRequest {
	export const { method, messageDirection, params, meta } = kernelRequest(
		'kernel/interrupt',
		'SIGINT to the kernel process: both supported kernels use interrupt_mode "signal", and SIGINT works while the kernel is busy, when a control message might wait.',
	);
	export const result = Type.Null();
	export const type = new ProtocolRequestType<KernelIdParams, null, never, void, void>(method);
}

/** Restarts the kernel in place: same id, same connection file, fresh interpreter. */
export namespace KernelRestartRequest {
	export const { method, messageDirection, params, meta } = kernelRequest(
		'kernel/restart',
		'Forwarders stay valid: the sockets and the key are reused. State is lost, as in any restart.',
		[ErrorCodes.KernelNotFound, ErrorCodes.KernelFailed],
	);
	export const result = KernelResult;
	export const type = new ProtocolRequestType<KernelIdParams, KernelResult, never, void, void>(method);
}

/** Stops the kernel: shutdown_request, then SIGTERM after a grace period, then SIGKILL. */
export namespace KernelShutdownRequest {
	export const { method, messageDirection, params, meta } = kernelRequest(
		'kernel/shutdown',
		'spyder-kernels 2.4 answers shutdown_request without exiting, so the signals follow. Its sockets and directory are removed once it has exited.',
	);
	export const result = Type.Null();
	export const type = new ProtocolRequestType<KernelIdParams, null, never, void, void>(method);
}

/** Re-attaches to a running kernel: what a new forwarder needs. */
export namespace KernelAttachRequest {
	export const { method, messageDirection, params, meta } = kernelRequest(
		'kernel/attach',
		'Returns the kernel with its connection key; the client then opens a forwarder and asks kernel/connect per channel.',
	);
	export const result = KernelResult;
	export const type = new ProtocolRequestType<KernelIdParams, KernelResult, never, void, void>(method);
}

export const KernelConnectParams = Type.Object({ id: KernelId, channel: KernelChannel });
export type KernelConnectParams = Static<typeof KernelConnectParams>;
export const KernelConnectResult = Type.Object({
	token: Type.String({ description: 'Single use, valid for expiresInMs. Sent as the first line of a tunnel connection.' }),
	expiresInMs: Type.Integer(),
});
export type KernelConnectResult = Static<typeof KernelConnectResult>;

/** Authorises one tunnel connection to one channel of one kernel. */
export namespace KernelConnectRequest {
	export const method = 'kernel/connect';
	export const messageDirection = MessageDirection.clientToServer;
	export const params = KernelConnectParams;
	export const result = KernelConnectResult;
	export const type = new ProtocolRequestType<KernelConnectParams, KernelConnectResult, never, void, void>(method);
	export const meta: MessageMeta = {
		since,
		requiresLogin: true,
		errors: [ErrorCodes.KernelNotFound, ErrorCodes.KernelUnavailable],
		documentation:
			'The token is bound to this user, this kernel and this channel, and is consumed by the first tunnel connection that presents it (section 6.13). `comm` is KernelUnavailable until the kernel has opened its comm port.',
	};
}

export const KernelDidChangeStateParams = Type.Object({ id: KernelId, state: KernelState });
export type KernelDidChangeStateParams = Static<typeof KernelDidChangeStateParams>;

/** A kernel's execution state changed (from its IOPub status messages and its process). */
export namespace KernelDidChangeStateNotification {
	export const method = 'kernel/didChangeState';
	export const messageDirection = MessageDirection.serverToClient;
	export const params = KernelDidChangeStateParams;
	export const type = new ProtocolNotificationType<KernelDidChangeStateParams, void>(method);
	export const meta: MessageMeta = { since, requiresLogin: true, errors: [], documentation: 'Sent to every connection of the user.' };
}

export const KernelDidExitParams = Type.Object({
	id: KernelId,
	exitCode: Type.Optional(Type.Integer()),
	signal: Type.Optional(Type.String()),
	stderrTail: Type.Array(Type.String(), { description: 'The last lines the kernel wrote to stderr.' }),
	restarting: Type.Boolean({ description: 'True when the exit is part of kernel/restart.' }),
	reason: Type.Optional(
		Type.String({ maxLength: 1024, description: 'Why a Slurm kernel ended, from Slurm: its job state and reason, e.g. `TIMEOUT (TimeLimit)`.' }),
	),
});
export type KernelDidExitParams = Static<typeof KernelDidExitParams>;

/** A kernel process ended. */
export namespace KernelDidExitNotification {
	export const method = 'kernel/didExit';
	export const messageDirection = MessageDirection.serverToClient;
	export const params = KernelDidExitParams;
	export const type = new ProtocolNotificationType<KernelDidExitParams, void>(method);
	export const meta: MessageMeta = {
		since,
		requiresLogin: true,
		errors: [],
		documentation: 'Sent to every connection of the user, whether the exit was asked for or not.',
	};
}

/** ALPN id of tunnel connections (section 6.13): raw kernel bytes after one line holding the token. */
export const TUNNEL_ALPN_PROTOCOL = 'spyder-remote-tunnel/1';
