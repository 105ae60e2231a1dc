import { Type } from '@spyder-remote/protocol';
import { ProtocolNotificationType, ProtocolRequestType } from 'vscode-languageserver-protocol';
import { MessageDirection, type BridgeMessageMeta, type ReadonlyStatic } from './messages.js';

export { BRIDGE_VERSION } from '../version.js';

export const InitializeParams = Type.Object({
	spyderVersion: Type.String({ description: 'e.g. `5.4.2`: named in compatibility reasons' }),
	spyderKernelsRange: Type.String({ description: 'the spyder-kernels versions this Spyder accepts, e.g. `>=2.4.0,<2.5.0`' }),
	stopKernelsOnExit: Type.Optional(
		Type.Boolean({ description: 'stop the kernels this bridge opened when it exits, instead of leaving them running; default false' }),
	),
	connectionDir: Type.Optional(Type.String({ description: 'where connection files go; default the Jupyter runtime directory' })),
});
export type InitializeParams = ReadonlyStatic<typeof InitializeParams>;

export const InitializeResult = Type.Object({
	bridgeVersion: Type.String(),
	configDir: Type.String({ description: 'where known_hosts and the key pair live' }),
	keyFingerprint: Type.Optional(Type.String({ description: 'set when a key was saved on this computer' })),
});
export type InitializeResult = ReadonlyStatic<typeof InitializeResult>;

/** The plugin's first request, once per bridge process. */
export namespace InitializeRequest {
	export const method = 'initialize';
	export const messageDirection = MessageDirection.clientToServer;
	export const params = InitializeParams;
	export const result = InitializeResult;
	export const type = new ProtocolRequestType<InitializeParams, InitializeResult, never, void, void>(method);
	export const meta: BridgeMessageMeta = { errors: [], documentation: 'Sent first. Requests on sessions fail with Internal before it.' };
}

export const ShutdownParams = Type.Object({
	stopKernels: Type.Optional(Type.Boolean({ description: 'overrides `stopKernelsOnExit` for this exit' })),
});
export type ShutdownParams = ReadonlyStatic<typeof ShutdownParams>;

/** The plugin is leaving: the bridge exits after the answer. */
export namespace ShutdownRequest {
	export const method = 'shutdown';
	export const messageDirection = MessageDirection.clientToServer;
	export const params = ShutdownParams;
	export const result = Type.Null();
	export const type = new ProtocolRequestType<ShutdownParams, null, never, void, void>(method);
	export const meta: BridgeMessageMeta = {
		errors: [],
		documentation:
			'The bridge then stops discovery, closes its forwarders (which deletes their connection files), stops the kernels only if asked, logs out and exits with status 0. The end of its stdin does the same.',
	};
}

export const LogParams = Type.Object({
	level: Type.Union([Type.Literal('info'), Type.Literal('warning'), Type.Literal('error')]),
	message: Type.String(),
});
export type LogParams = ReadonlyStatic<typeof LogParams>;

/** Something for Spyder's log, not for a dialog. */
export namespace LogNotification {
	export const method = 'log';
	export const messageDirection = MessageDirection.serverToClient;
	export const params = LogParams;
	export const type = new ProtocolNotificationType<LogParams, void>(method);
	export const meta: BridgeMessageMeta = { errors: [], documentation: 'Warnings of the client library, discovery and the forwarders.' };
}

export const CancelRequestParams = Type.Object({ id: Type.Union([Type.Integer(), Type.String()], { description: "the request's id" }) });
export type CancelRequestParams = ReadonlyStatic<typeof CancelRequestParams>;

/** LSP's `$/cancelRequest`, which vscode-jsonrpc serves: the bridge has no handler of its own for it. */
export namespace CancelRequestNotification {
	export const method = '$/cancelRequest';
	export const messageDirection = MessageDirection.clientToServer;
	export const params = CancelRequestParams;
	export const meta: BridgeMessageMeta = { errors: [], documentation: 'The request stops its work and fails with RequestCancelled (-32800).' };
}
