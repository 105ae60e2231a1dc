import {
	AuthMethod,
	Fingerprint,
	LoginChallengeRequest,
	PasswordLoginRequest,
	PublicKeyLoginRequest,
	RegisterKeyRequest,
	ServerCapabilitiesResult,
	Type,
	WhoamiResult,
} from '@spyder-remote/protocol';
import { ProtocolNotificationType, ProtocolRequestType } from 'vscode-languageserver-protocol';
import { BridgeErrorCodes, sessionErrors } from './errors.js';
import { MessageDirection, type BridgeMessageMeta, type ReadonlyStatic } from './messages.js';

export const SessionHandle = Type.String({ description: "the bridge's handle of a connection, e.g. `s1`" });

export const SessionParams = Type.Object({ session: SessionHandle });
export type SessionParams = ReadonlyStatic<typeof SessionParams>;

export const SessionInfo = Type.Object({
	session: SessionHandle,
	host: Type.String(),
	port: Type.Integer(),
	label: Type.String({ description: 'how the server is shown to the user' }),
	fingerprint: Fingerprint,
	serverName: Type.String(),
	serverVersion: Type.String(),
	authMethods: Type.Array(AuthMethod),
	user: Type.Optional(Type.String({ description: 'set once logged in' })),
});
export type SessionInfo = ReadonlyStatic<typeof SessionInfo>;

export const SessionOpenParams = Type.Object({
	host: Type.String(),
	port: Type.Optional(Type.Integer({ description: 'default 7446' })),
	announcedFingerprint: Type.Optional(Type.String({ description: 'what a discovery announcement said; only compared, never trusted' })),
	label: Type.Optional(Type.String({ description: 'shown to the user, e.g. the discovered name; default the host' })),
});
export type SessionOpenParams = ReadonlyStatic<typeof SessionOpenParams>;

/** Connects to a server and checks its certificate. */
export namespace SessionOpenRequest {
	export const method = 'session/open';
	export const messageDirection = MessageDirection.clientToServer;
	export const params = SessionOpenParams;
	export const result = SessionInfo;
	export const type = new ProtocolRequestType<SessionOpenParams, SessionInfo, never, void, void>(method);
	export const meta: BridgeMessageMeta = {
		errors: [BridgeErrorCodes.Unreachable, BridgeErrorCodes.HostKeyChanged, BridgeErrorCodes.HostNotTrusted, BridgeErrorCodes.NotSpyderRemote],
		documentation:
			'A server without a pin in known_hosts, and without a CA that vouches for it, is shown to the user with `host/confirm` while this request runs.',
	};
}

export const HostConfirmParams = Type.Object({
	host: Type.String(),
	port: Type.Integer(),
	fingerprint: Fingerprint,
	announcedFingerprint: Type.Optional(Type.String({ description: 'only when discovery announced a different one' })),
});
export type HostConfirmParams = ReadonlyStatic<typeof HostConfirmParams>;
export const HostConfirmResult = Type.Object({ trust: Type.Boolean() });
export type HostConfirmResult = ReadonlyStatic<typeof HostConfirmResult>;

/** Bridge → plugin, while `session/open` runs: a server seen for the first time, shown to the user. */
export namespace HostConfirmRequest {
	export const method = 'host/confirm';
	export const messageDirection = MessageDirection.serverToClient;
	export const params = HostConfirmParams;
	export const result = HostConfirmResult;
	export const type = new ProtocolRequestType<HostConfirmParams, HostConfirmResult, never, void, void>(method);
	export const meta: BridgeMessageMeta = {
		errors: [],
		documentation: 'Trusting pins the fingerprint. Refusing fails `session/open` with HostNotTrusted, and nothing is sent to the server.',
	};
}

export const SessionLoginParams = Type.Object({
	session: SessionHandle,
	user: Type.String(),
	password: Type.Optional(Type.String({ description: 'without it, the key saved on this computer is used' })),
});
export type SessionLoginParams = ReadonlyStatic<typeof SessionLoginParams>;
export const SessionLoginResult = Type.Object({
	info: SessionInfo,
	whoami: WhoamiResult,
	method: AuthMethod,
});
export type SessionLoginResult = ReadonlyStatic<typeof SessionLoginResult>;

/** Logs in with the password, or with the key saved on this computer. */
export namespace SessionLoginRequest {
	export const method = 'session/login';
	export const messageDirection = MessageDirection.clientToServer;
	export const params = SessionLoginParams;
	export const result = SessionLoginResult;
	export const type = new ProtocolRequestType<SessionLoginParams, SessionLoginResult, never, void, void>(method);
	export const meta: BridgeMessageMeta = {
		errors: [
			BridgeErrorCodes.NoSession,
			BridgeErrorCodes.NoKey,
			...new Set([...PasswordLoginRequest.meta.errors, ...LoginChallengeRequest.meta.errors, ...PublicKeyLoginRequest.meta.errors]),
		],
		documentation:
			'The login errors of the server come with sentences for Spyder: AuthenticationFailed says whether the password or the saved key was refused.',
	};
}

export const SessionSaveKeyResult = Type.Object({ fingerprint: Fingerprint });
export type SessionSaveKeyResult = ReadonlyStatic<typeof SessionSaveKeyResult>;

/** Makes (once) this computer's key pair and registers it for the logged-in user. */
export namespace SessionSaveKeyRequest {
	export const method = 'session/saveKey';
	export const messageDirection = MessageDirection.clientToServer;
	export const params = SessionParams;
	export const result = SessionSaveKeyResult;
	export const type = new ProtocolRequestType<SessionParams, SessionSaveKeyResult, never, void, void>(method);
	export const meta: BridgeMessageMeta = {
		errors: [...sessionErrors, ...RegisterKeyRequest.meta.errors],
		documentation: 'Later logins need no password: `session/login` without one.',
	};
}

/** The server's `session/whoami`. */
export namespace SessionWhoamiRequest {
	export const method = 'session/whoami';
	export const messageDirection = MessageDirection.clientToServer;
	export const params = SessionParams;
	export const result = WhoamiResult;
	export const type = new ProtocolRequestType<SessionParams, WhoamiResult, never, void, void>(method);
	export const meta: BridgeMessageMeta = { errors: sessionErrors, documentation: 'Answered by the server for the logged-in user.' };
}

/** The server's `server/capabilities`: whether kernels can be placed in Slurm jobs, and the partitions. */
export namespace SessionCapabilitiesRequest {
	export const method = 'session/capabilities';
	export const messageDirection = MessageDirection.clientToServer;
	export const params = SessionParams;
	export const result = ServerCapabilitiesResult;
	export const type = new ProtocolRequestType<SessionParams, ServerCapabilitiesResult, never, void, void>(method);
	export const meta: BridgeMessageMeta = {
		errors: sessionErrors,
		documentation: 'Answered by the server for the logged-in user: the partitions are those the user sees.',
	};
}

export const SessionListResult = Type.Object({ sessions: Type.Array(SessionInfo) });
export type SessionListResult = ReadonlyStatic<typeof SessionListResult>;

/** The bridge's open sessions. */
export namespace SessionListRequest {
	export const method = 'session/list';
	export const messageDirection = MessageDirection.clientToServer;
	export const params = Type.Object({});
	export const result = SessionListResult;
	export const type = new ProtocolRequestType<Record<string, never>, SessionListResult, never, void, void>(method);
	export const meta: BridgeMessageMeta = { errors: [], documentation: 'Logged in or not.' };
}

/** Logs out and closes the connection. */
export namespace SessionCloseRequest {
	export const method = 'session/close';
	export const messageDirection = MessageDirection.clientToServer;
	export const params = SessionParams;
	export const result = Type.Null();
	export const type = new ProtocolRequestType<SessionParams, null, never, void, void>(method);
	export const meta: BridgeMessageMeta = { errors: [], documentation: 'An unknown handle is not an error. No `session/didClose` follows.' };
}

export const SessionDidCloseParams = Type.Object({ session: SessionHandle, reason: Type.String({ description: 'a sentence for the user' }) });
export type SessionDidCloseParams = ReadonlyStatic<typeof SessionDidCloseParams>;

/** A connection was lost. */
export namespace SessionDidCloseNotification {
	export const method = 'session/didClose';
	export const messageDirection = MessageDirection.serverToClient;
	export const params = SessionDidCloseParams;
	export const type = new ProtocolNotificationType<SessionDidCloseParams, void>(method);
	export const meta: BridgeMessageMeta = { errors: [], documentation: 'Its forwarders are closed, and its kernels keep running on the server.' };
}
