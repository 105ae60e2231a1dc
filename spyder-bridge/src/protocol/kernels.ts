import {
	EnvironmentId,
	Kernel,
	KernelAttachRequest as ServerKernelAttach,
	KernelConnectRequest as ServerKernelConnect,
	KernelDidExitParams as ServerKernelDidExitParams,
	KernelId,
	KernelInterruptRequest as ServerKernelInterrupt,
	KernelListRequest as ServerKernelList,
	KernelRestartRequest as ServerKernelRestart,
	KernelShutdownRequest as ServerKernelShutdown,
	KernelStartRequest as ServerKernelStart,
	KernelState,
	Placement,
	SlurmJob,
	Type,
} from '@spyder-remote/protocol';
import { ProtocolNotificationType, ProtocolRequestType } from 'vscode-languageserver-protocol';
import { BridgeErrorCodes, sessionErrors } from './errors.js';
import { MessageDirection, type BridgeMessageMeta, type ReadonlyStatic } from './messages.js';
import { SessionHandle } from './sessions.js';

export const KernelIdParams = Type.Object({ session: SessionHandle, id: KernelId });
export type KernelIdParams = ReadonlyStatic<typeof KernelIdParams>;
export const KernelResult = Type.Object({ kernel: Kernel });
export type KernelResult = ReadonlyStatic<typeof KernelResult>;

/** A kernel made usable here: its forwarder is open and the connection file written. */
export const OpenedKernel = Type.Object({
	kernel: Kernel,
	connectionFile: Type.String({ description: 'mode 0600, for `create_client_for_kernel`' }),
	displayName: Type.String({ description: 'for the console tab, e.g. `alice@lab/analysis`' }),
});
export type OpenedKernel = ReadonlyStatic<typeof OpenedKernel>;

/** Opening a forwarder asks the server for a tunnel per channel. */
const forwarderErrors = ServerKernelConnect.meta.errors;

/** A running kernel as Spyder shows it: the server's, plus whether this Spyder can open a console on it and, when not, why. */
export const KernelView = Type.Composite([
	Kernel,
	Type.Object({ usable: Type.Boolean(), reason: Type.Optional(Type.String({ description: "in Spyder's words, when not usable" })) }),
]);
export type KernelView = ReadonlyStatic<typeof KernelView>;

export const KernelListResult = Type.Object({ kernels: Type.Array(KernelView) });
export type KernelListResult = ReadonlyStatic<typeof KernelListResult>;

/** The user's running kernels on the server. */
export namespace KernelListRequest {
	export const method = 'kernel/list';
	export const messageDirection = MessageDirection.clientToServer;
	export const params = Type.Object({ session: SessionHandle });
	export const result = KernelListResult;
	export const type = new ProtocolRequestType<{ session: string }, KernelListResult, never, void, void>(method);
	export const meta: BridgeMessageMeta = {
		errors: [...sessionErrors, ...ServerKernelList.meta.errors],
		documentation:
			"Including those started by other or earlier connections. Each with `usable` and, when not usable, `reason`: judged by its environment's entry in `environment/list` for this Spyder.",
	};
}

export const KernelStartParams = Type.Object({
	session: SessionHandle,
	environment: EnvironmentId,
	cwd: Type.Optional(Type.String({ description: "on the server; default the user's home" })),
	placement: Type.Optional(Placement),
});
export type KernelStartParams = ReadonlyStatic<typeof KernelStartParams>;

/** Starts a `spyder` kernel within the Spyder's spyder-kernels range, and forwards it. */
export namespace KernelStartRequest {
	export const method = 'kernel/start';
	export const messageDirection = MessageDirection.clientToServer;
	export const params = KernelStartParams;
	export const result = OpenedKernel;
	export const type = new ProtocolRequestType<KernelStartParams, OpenedKernel, never, void, void>(method);
	export const meta: BridgeMessageMeta = {
		errors: [...sessionErrors, ...new Set([...ServerKernelStart.meta.errors, ...forwarderErrors])],
		documentation:
			"The forwarder listens on local ports for the Jupyter channels and the comm port, and stays open until `kernel/release`, the end of its session or the bridge's exit.",
	};
}

/** Forwards a kernel that is already running. */
export namespace KernelAttachRequest {
	export const method = 'kernel/attach';
	export const messageDirection = MessageDirection.clientToServer;
	export const params = KernelIdParams;
	export const result = OpenedKernel;
	export const type = new ProtocolRequestType<KernelIdParams, OpenedKernel, never, void, void>(method);
	export const meta: BridgeMessageMeta = {
		errors: [...sessionErrors, BridgeErrorCodes.KernelIncompatible, ...new Set([...ServerKernelAttach.meta.errors, ...forwarderErrors])],
		documentation:
			'Only a kernel `kernel/list` calls usable, judged again at the request: otherwise KernelIncompatible with the reason. A kernel this bridge forwards already keeps its forwarder.',
	};
}

export const KernelReleaseParams = Type.Object({
	id: KernelId,
	stop: Type.Optional(Type.Boolean({ description: 'shut the kernel down too; default false: it keeps running for a later attach' })),
});
export type KernelReleaseParams = ReadonlyStatic<typeof KernelReleaseParams>;

/** Spyder closed its last console on the kernel. */
export namespace KernelReleaseRequest {
	export const method = 'kernel/release';
	export const messageDirection = MessageDirection.clientToServer;
	export const params = KernelReleaseParams;
	export const result = Type.Null();
	export const type = new ProtocolRequestType<KernelReleaseParams, null, never, void, void>(method);
	export const meta: BridgeMessageMeta = {
		errors: ServerKernelShutdown.meta.errors,
		documentation: "Closes the kernel's forwarder, which deletes its connection file, and stops the kernel only when `stop` is true.",
	};
}

/** Interrupts the running cell, through the server. */
export namespace KernelInterruptRequest {
	export const method = 'kernel/interrupt';
	export const messageDirection = MessageDirection.clientToServer;
	export const params = KernelIdParams;
	export const result = Type.Null();
	export const type = new ProtocolRequestType<KernelIdParams, null, never, void, void>(method);
	export const meta: BridgeMessageMeta = {
		errors: [...sessionErrors, ...ServerKernelInterrupt.meta.errors],
		documentation: 'Spyder can only interrupt kernels it started; the server signals this one.',
	};
}

/** Restarts the kernel under the same id. */
export namespace KernelRestartRequest {
	export const method = 'kernel/restart';
	export const messageDirection = MessageDirection.clientToServer;
	export const params = KernelIdParams;
	export const result = KernelResult;
	export const type = new ProtocolRequestType<KernelIdParams, KernelResult, never, void, void>(method);
	export const meta: BridgeMessageMeta = {
		errors: [...sessionErrors, ...ServerKernelRestart.meta.errors],
		documentation: 'A forwarded kernel then gets `kernel/didRestart`.',
	};
}

/** Stops the kernel. */
export namespace KernelShutdownRequest {
	export const method = 'kernel/shutdown';
	export const messageDirection = MessageDirection.clientToServer;
	export const params = KernelIdParams;
	export const result = Type.Null();
	export const type = new ProtocolRequestType<KernelIdParams, null, never, void, void>(method);
	export const meta: BridgeMessageMeta = {
		errors: [...sessionErrors, ...ServerKernelShutdown.meta.errors],
		documentation: 'Its forwarder here is closed too.',
	};
}

export const KernelDidChangeStateParams = Type.Object({ session: SessionHandle, id: KernelId, state: KernelState });
export type KernelDidChangeStateParams = ReadonlyStatic<typeof KernelDidChangeStateParams>;

/** The server's `kernel/didChangeState` of a logged-in session. */
export namespace KernelDidChangeStateNotification {
	export const method = 'kernel/didChangeState';
	export const messageDirection = MessageDirection.serverToClient;
	export const params = KernelDidChangeStateParams;
	export const type = new ProtocolNotificationType<KernelDidChangeStateParams, void>(method);
	export const meta: BridgeMessageMeta = { errors: [], documentation: 'For every kernel of the user, forwarded here or not.' };
}

export const KernelDidExitParams = Type.Composite([
	Type.Object({ session: SessionHandle }),
	ServerKernelDidExitParams,
	Type.Object({ expected: Type.Boolean({ description: 'true within a restart, or when the bridge itself stopped the kernel' }) }),
]);
export type KernelDidExitParams = ReadonlyStatic<typeof KernelDidExitParams>;

/** The server's `kernel/didExit` of a logged-in session. */
export namespace KernelDidExitNotification {
	export const method = 'kernel/didExit';
	export const messageDirection = MessageDirection.serverToClient;
	export const params = KernelDidExitParams;
	export const type = new ProtocolNotificationType<KernelDidExitParams, void>(method);
	export const meta: BridgeMessageMeta = { errors: [], documentation: "Outside a restart, the kernel's forwarder is closed." };
}

export const KernelDidChangeJobParams = Type.Object({ session: SessionHandle, id: KernelId, job: SlurmJob });
export type KernelDidChangeJobParams = ReadonlyStatic<typeof KernelDidChangeJobParams>;

/** The server's `kernel/didChangeJob`: a Slurm kernel's job is pending (with the reason), starting, running, or over. */
export namespace KernelDidChangeJobNotification {
	export const method = 'kernel/didChangeJob';
	export const messageDirection = MessageDirection.serverToClient;
	export const params = KernelDidChangeJobParams;
	export const type = new ProtocolNotificationType<KernelDidChangeJobParams, void>(method);
	export const meta: BridgeMessageMeta = {
		errors: [],
		documentation: 'For every Slurm kernel of the user; it may come before the `kernel/start` result, while the job waits.',
	};
}

export const KernelDidRestartParams = Type.Object({ session: SessionHandle, id: KernelId, kernel: Kernel });
export type KernelDidRestartParams = ReadonlyStatic<typeof KernelDidRestartParams>;

/** A forwarded kernel is ready again after a restart, asked for by any client. */
export namespace KernelDidRestartNotification {
	export const method = 'kernel/didRestart';
	export const messageDirection = MessageDirection.serverToClient;
	export const params = KernelDidRestartParams;
	export const type = new ProtocolNotificationType<KernelDidRestartParams, void>(method);
	export const meta: BridgeMessageMeta = { errors: [], documentation: 'Its forwarder already follows the new comm port: Spyder can reconnect its comm.' };
}
