import {
	Environment,
	EnvironmentCreateRequest as ServerEnvironmentCreate,
	EnvironmentId,
	EnvironmentInstallRequest as ServerEnvironmentInstall,
	EnvironmentListRequest as ServerEnvironmentList,
	EnvironmentName,
	EnvironmentPackagesRequest as ServerEnvironmentPackages,
	EnvironmentPackagesResult,
	EnvironmentRemoveRequest as ServerEnvironmentRemove,
	EnvironmentUninstallRequest as ServerEnvironmentUninstall,
	PackageName,
	PackageSpec,
	Type,
} from '@spyder-remote/protocol';
import { ProtocolNotificationType, ProtocolRequestType } from 'vscode-languageserver-protocol';
import { sessionErrors } from './errors.js';
import { MessageDirection, type BridgeMessageMeta, type ReadonlyStatic } from './messages.js';
import { SessionHandle } from './sessions.js';

/** An environment as Spyder shows it: the server's, plus whether this Spyder can open a console there and, when not, why. */
export const EnvironmentView = Type.Composite([
	Environment,
	Type.Object({ usable: Type.Boolean(), reason: Type.Optional(Type.String({ description: "in Spyder's words, when not usable" })) }),
]);
export type EnvironmentView = ReadonlyStatic<typeof EnvironmentView>;

export const OperationId = Type.String({ description: 'chosen by the plugin: `operation/progress` carries it' });

export const EnvironmentListParams = Type.Object({
	session: SessionHandle,
	refresh: Type.Optional(Type.Boolean({ description: 'rescan instead of answering from the cache' })),
});
export type EnvironmentListParams = ReadonlyStatic<typeof EnvironmentListParams>;
export const EnvironmentListResult = Type.Object({ environments: Type.Array(EnvironmentView) });
export type EnvironmentListResult = ReadonlyStatic<typeof EnvironmentListResult>;

/** The user's environments on the server, against this Spyder's spyder-kernels range. */
export namespace EnvironmentListRequest {
	export const method = 'environment/list';
	export const messageDirection = MessageDirection.clientToServer;
	export const params = EnvironmentListParams;
	export const result = EnvironmentListResult;
	export const type = new ProtocolRequestType<EnvironmentListParams, EnvironmentListResult, never, void, void>(method);
	export const meta: BridgeMessageMeta = {
		errors: [...sessionErrors, ...ServerEnvironmentList.meta.errors],
		documentation: 'Each with `usable` and, when not usable, `reason`.',
	};
}

export const EnvironmentIdParams = Type.Object({ session: SessionHandle, id: EnvironmentId, operation: Type.Optional(OperationId) });
export type EnvironmentIdParams = ReadonlyStatic<typeof EnvironmentIdParams>;

/** The packages installed in an environment. */
export namespace EnvironmentPackagesRequest {
	export const method = 'environment/packages';
	export const messageDirection = MessageDirection.clientToServer;
	export const params = EnvironmentIdParams;
	export const result = EnvironmentPackagesResult;
	export const type = new ProtocolRequestType<EnvironmentIdParams, ReadonlyStatic<typeof EnvironmentPackagesResult>, never, void, void>(method);
	export const meta: BridgeMessageMeta = { errors: [...sessionErrors, ...ServerEnvironmentPackages.meta.errors], documentation: 'As the server lists them.' };
}

export const EnvironmentResult = Type.Object({ environment: EnvironmentView });
export type EnvironmentResult = ReadonlyStatic<typeof EnvironmentResult>;

export const EnvironmentCreateParams = Type.Object({
	session: SessionHandle,
	name: EnvironmentName,
	kind: Type.Union([Type.Literal('venv'), Type.Literal('conda')]),
	python: Type.Optional(Type.String()),
	packages: Type.Optional(Type.Array(PackageSpec)),
	systemSitePackages: Type.Optional(Type.Boolean()),
	operation: Type.Optional(OperationId),
});
export type EnvironmentCreateParams = ReadonlyStatic<typeof EnvironmentCreateParams>;

/** Creates a venv or a conda environment. */
export namespace EnvironmentCreateRequest {
	export const method = 'environment/create';
	export const messageDirection = MessageDirection.clientToServer;
	export const params = EnvironmentCreateParams;
	export const result = EnvironmentResult;
	export const type = new ProtocolRequestType<EnvironmentCreateParams, EnvironmentResult, never, void, void>(method);
	export const meta: BridgeMessageMeta = {
		errors: [...sessionErrors, ...ServerEnvironmentCreate.meta.errors],
		progress: true,
		cancellable: true,
		documentation: "The server's `environment/create`.",
	};
}

/** Deletes an environment. */
export namespace EnvironmentRemoveRequest {
	export const method = 'environment/remove';
	export const messageDirection = MessageDirection.clientToServer;
	export const params = EnvironmentIdParams;
	export const result = Type.Null();
	export const type = new ProtocolRequestType<EnvironmentIdParams, null, never, void, void>(method);
	export const meta: BridgeMessageMeta = {
		errors: [...sessionErrors, ...ServerEnvironmentRemove.meta.errors],
		progress: true,
		documentation: "The server's `environment/remove`; not cancellable.",
	};
}

export const EnvironmentPackagesParams = Type.Object({
	session: SessionHandle,
	id: EnvironmentId,
	packages: Type.Array(PackageSpec),
	operation: Type.Optional(OperationId),
});
export type EnvironmentPackagesParams = ReadonlyStatic<typeof EnvironmentPackagesParams>;

/** Installs packages into an environment. */
export namespace EnvironmentInstallRequest {
	export const method = 'environment/install';
	export const messageDirection = MessageDirection.clientToServer;
	export const params = EnvironmentPackagesParams;
	export const result = EnvironmentResult;
	export const type = new ProtocolRequestType<EnvironmentPackagesParams, EnvironmentResult, never, void, void>(method);
	export const meta: BridgeMessageMeta = {
		errors: [...sessionErrors, ...ServerEnvironmentInstall.meta.errors],
		progress: true,
		cancellable: true,
		documentation: "The server's `environment/install`, with its default installer.",
	};
}

export const EnvironmentUninstallParams = Type.Object({
	session: SessionHandle,
	id: EnvironmentId,
	packages: Type.Array(PackageName),
	operation: Type.Optional(OperationId),
});
export type EnvironmentUninstallParams = ReadonlyStatic<typeof EnvironmentUninstallParams>;

/** Uninstalls packages from an environment. */
export namespace EnvironmentUninstallRequest {
	export const method = 'environment/uninstall';
	export const messageDirection = MessageDirection.clientToServer;
	export const params = EnvironmentUninstallParams;
	export const result = EnvironmentResult;
	export const type = new ProtocolRequestType<EnvironmentUninstallParams, EnvironmentResult, never, void, void>(method);
	export const meta: BridgeMessageMeta = {
		errors: [...sessionErrors, ...ServerEnvironmentUninstall.meta.errors],
		progress: true,
		cancellable: true,
		documentation: 'As `environment/install`, in reverse.',
	};
}

export const OperationProgressParams = Type.Object({
	operation: OperationId,
	kind: Type.Union([Type.Literal('begin'), Type.Literal('report'), Type.Literal('end')]),
	title: Type.Optional(Type.String()),
	message: Type.Optional(Type.String({ description: 'tool output' })),
	percentage: Type.Optional(Type.Number()),
});
export type OperationProgressParams = ReadonlyStatic<typeof OperationProgressParams>;

/** The server's work-done progress of a long environment request, under the plugin's `operation`. */
export namespace OperationProgressNotification {
	export const method = 'operation/progress';
	export const messageDirection = MessageDirection.serverToClient;
	export const params = OperationProgressParams;
	export const type = new ProtocolNotificationType<OperationProgressParams, void>(method);
	export const meta: BridgeMessageMeta = { errors: [], documentation: 'Only for requests that were given an `operation`.' };
}

export const EnvironmentDidChangeParams = Type.Object({
	session: SessionHandle,
	added: Type.Array(EnvironmentView),
	changed: Type.Array(EnvironmentView),
	removed: Type.Array(EnvironmentId),
});
export type EnvironmentDidChangeParams = ReadonlyStatic<typeof EnvironmentDidChangeParams>;

/** The server's `environment/didChange` of a logged-in session, as Spyder sees the environments. */
export namespace EnvironmentDidChangeNotification {
	export const method = 'environment/didChange';
	export const messageDirection = MessageDirection.serverToClient;
	export const params = EnvironmentDidChangeParams;
	export const type = new ProtocolNotificationType<EnvironmentDidChangeParams, void>(method);
	export const meta: BridgeMessageMeta = { errors: [], documentation: 'Whoever made the change: this Spyder, another client, a terminal.' };
}
