import { ProtocolNotificationType, ProtocolNotificationType0, ProtocolRequestType, ProtocolRequestType0 } from 'vscode-languageserver-protocol';
import { ErrorCodes } from './errors.js';
import { MessageDirection, type MessageMeta } from './messages.js';
import { ShortText, Type, type Static } from './schema.js';

/** ALPN protocol id of the JSON-RPC channel; kernel tunnels use TUNNEL_ALPN_PROTOCOL. */
export const ALPN_PROTOCOL = 'spyder-remote/1';

export const AuthMethod = Type.Union([Type.Literal('password'), Type.Literal('publicKey')]);
export type AuthMethod = Static<typeof AuthMethod>;

export const ClientCapabilities = Type.Object(
	{
		window: Type.Optional(
			Type.Object({
				workDoneProgress: Type.Optional(Type.Boolean({ description: 'The client shows `$/progress` for requests it passed a workDoneToken to.' })),
			}),
		),
		experimental: Type.Optional(Type.Unknown()),
	},
	{ description: 'What the client supports. Unknown members are ignored.' },
);
export type ClientCapabilities = Static<typeof ClientCapabilities>;

export const ServerCapabilities = Type.Object(
	{
		authMethods: Type.Array(AuthMethod, { maxItems: 8, description: 'Login methods this server accepts, in its order of preference.' }),
		keyRegistration: Type.Boolean({ description: 'A logged-in client may register a public key with `auth/registerKey`.' }),
		environments: Type.Optional(
			Type.Object(
				{
					create: Type.Array(Type.Union([Type.Literal('venv'), Type.Literal('conda')]), {
						description: 'Kinds `environment/create` makes; empty when creating is off.',
					}),
					administer: Type.Boolean({ description: 'Install, uninstall and remove are offered (per environment, `manageable` says where).' }),
				},
				{ description: 'The `environment/*` messages.' },
			),
		),
		kernels: Type.Optional(
			Type.Object(
				{
					kinds: Type.Array(Type.Union([Type.Literal('spyder'), Type.Literal('ipykernel')]), { description: 'Kernel kinds `kernel/start` runs.' }),
					leaseSeconds: Type.Integer({ minimum: 1, description: "How long kernels outlive the user's last connection." }),
				},
				{ description: 'The `kernel/*` messages and the tunnel (ALPN `spyder-remote-tunnel/1`).' },
			),
		),
		experimental: Type.Optional(Type.Unknown()),
	},
	{ description: 'What the server offers. A client must not use a feature the server does not announce.' },
);
export type ServerCapabilities = Static<typeof ServerCapabilities>;

export const PeerInfo = Type.Object({
	name: Type.String({ minLength: 1, maxLength: 256 }),
	version: Type.Optional(ShortText),
});

export const InitializeParams = Type.Object({
	protocolVersion: Type.String({ maxLength: 32, description: 'The protocol version the client speaks, `MAJOR.MINOR.PATCH`.' }),
	clientInfo: PeerInfo,
	capabilities: ClientCapabilities,
});
export type InitializeParams = Static<typeof InitializeParams>;

export const InitializeResult = Type.Object({
	protocolVersion: Type.String({ description: 'The protocol version the server speaks.' }),
	serverInfo: PeerInfo,
	capabilities: ServerCapabilities,
	banner: Type.Optional(
		Type.String({
			maxLength: 8192,
			description:
				'Text the administrator wants shown before login (OpenSSH Banner), at most 8 KiB. Clients show it to the user before asking for a password; it is untrusted text, so a client strips terminal control characters before printing it.',
		}),
	),
});
export type InitializeResult = Static<typeof InitializeResult>;

/** The first request of every connection: version negotiation and capabilities. */
export namespace InitializeRequest {
	export const method = 'initialize';
	export const messageDirection = MessageDirection.clientToServer;
	export const params = InitializeParams;
	export const result = InitializeResult;
	export const type = new ProtocolRequestType<InitializeParams, InitializeResult, never, void, void>(method);
	export const meta: MessageMeta = {
		since: '0.1.0',
		requiresLogin: false,
		errors: [ErrorCodes.ProtocolVersionMismatch, ErrorCodes.InvalidRequest],
		documentation:
			'Sent once, first. Before it, requests other than `shutdown` fail with ServerNotInitialized (unknown methods with MethodNotFound). A second `initialize` fails with InvalidRequest. ' +
			'An incompatible protocolVersion fails with ProtocolVersionMismatch, whose message names both versions, and the connection stays open so the client can report it.',
	};
}

/** The client has processed the initialize result. */
export namespace InitializedNotification {
	export const method = 'initialized';
	export const messageDirection = MessageDirection.clientToServer;
	export const params = Type.Object({});
	export const type = new ProtocolNotificationType<Record<string, never>, void>(method);
	export const meta: MessageMeta = { since: '0.1.0', requiresLogin: false, errors: [], documentation: 'Sent once after the initialize result arrived.' };
}

/** Asks the server to stop serving this connection; `exit` follows. */
export namespace ShutdownRequest {
	export const method = 'shutdown';
	export const messageDirection = MessageDirection.clientToServer;
	export const params = undefined;
	export const result = Type.Null();
	export const type = new ProtocolRequestType0<null, never, void, void>(method);
	export const meta: MessageMeta = {
		since: '0.1.0',
		requiresLogin: false,
		errors: [],
		documentation:
			"Ends this connection's use of the server; it does not stop the daemon. After it, every request but `exit` fails with ShuttingDown. " +
			"The user's kernels are not stopped: they outlive connections by design.",
	};
}

/** Closes the connection. */
export namespace ExitNotification {
	export const method = 'exit';
	export const messageDirection = MessageDirection.clientToServer;
	export const params = undefined;
	export const type = new ProtocolNotificationType0<void>(method);
	export const meta: MessageMeta = { since: '0.1.0', requiresLogin: false, errors: [], documentation: 'The server closes the connection.' };
}
