import { ProtocolRequestType } from 'vscode-languageserver-protocol';
import { ErrorCodes } from './errors.js';
import { MessageDirection, type MessageMeta } from './messages.js';
import { Ed25519PublicKey, Ed25519Signature, Fingerprint, Nonce, Password, Type, UserName, type Static } from './schema.js';

export const LoginResult = Type.Object({
	user: UserName,
});
export type LoginResult = Static<typeof LoginResult>;

const loginErrors = [
	ErrorCodes.AuthenticationFailed,
	ErrorCodes.TooManyAuthAttempts,
	ErrorCodes.AlreadyAuthenticated,
	ErrorCodes.SessionUnavailable,
	ErrorCodes.AuthMethodUnavailable,
];

export const PasswordLoginParams = Type.Object({ user: UserName, password: Password });
export type PasswordLoginParams = Static<typeof PasswordLoginParams>;

/** Logs in with the account's OS password (PAM on Unix). */
export namespace PasswordLoginRequest {
	export const method = 'auth/password';
	export const messageDirection = MessageDirection.clientToServer;
	export const params = PasswordLoginParams;
	export const result = LoginResult;
	export const type = new ProtocolRequestType<PasswordLoginParams, LoginResult, never, void, void>(method);
	export const meta: MessageMeta = {
		since: '0.1.0',
		requiresLogin: false,
		errors: loginErrors,
		documentation:
			'Wrong password, unknown user, refused account and expired account all fail alike with AuthenticationFailed. ' +
			'After the result, every later message on the connection is served as that user.',
	};
}

export const ChallengeParams = Type.Object({ user: UserName, publicKey: Ed25519PublicKey });
export type ChallengeParams = Static<typeof ChallengeParams>;
export const ChallengeResult = Type.Object({ nonce: Nonce });
export type ChallengeResult = Static<typeof ChallengeResult>;

/** First half of a key login: the server hands out a single-use nonce. */
export namespace LoginChallengeRequest {
	export const method = 'auth/challenge';
	export const messageDirection = MessageDirection.clientToServer;
	export const params = ChallengeParams;
	export const result = ChallengeResult;
	export const type = new ProtocolRequestType<ChallengeParams, ChallengeResult, never, void, void>(method);
	export const meta: MessageMeta = {
		since: '0.1.0',
		requiresLogin: false,
		errors: [ErrorCodes.AuthMethodUnavailable, ErrorCodes.AlreadyAuthenticated],
		documentation:
			'Always answers with a nonce, whether or not the key is registered, so keys cannot be probed. ' +
			'The nonce is valid for one `auth/publicKey` on this connection, for the same user and key.',
	};
}

export const PublicKeyLoginParams = Type.Object({ user: UserName, publicKey: Ed25519PublicKey, signature: Ed25519Signature });
export type PublicKeyLoginParams = Static<typeof PublicKeyLoginParams>;

/** Second half of a key login: the Ed25519 signature of `publicKeyLoginPayload`. */
export namespace PublicKeyLoginRequest {
	export const method = 'auth/publicKey';
	export const messageDirection = MessageDirection.clientToServer;
	export const params = PublicKeyLoginParams;
	export const result = LoginResult;
	export const type = new ProtocolRequestType<PublicKeyLoginParams, LoginResult, never, void, void>(method);
	export const meta: MessageMeta = {
		since: '0.1.0',
		requiresLogin: false,
		errors: loginErrors,
		documentation:
			'The signature covers the nonce and the TLS channel binding (see publicKeyLoginPayload), so it cannot be replayed on another connection. ' +
			"The key must be listed in the user's authorized keys file.",
	};
}

export const RegisterKeyParams = Type.Object({
	publicKey: Ed25519PublicKey,
	comment: Type.Optional(Type.String({ maxLength: 200, pattern: '^[^\\r\\n\\x00]*$' })),
});
export type RegisterKeyParams = Static<typeof RegisterKeyParams>;
export const RegisterKeyResult = Type.Object({ fingerprint: Fingerprint, added: Type.Boolean({ description: 'False when the key was already registered.' }) });
export type RegisterKeyResult = Static<typeof RegisterKeyResult>;

/** Adds a public key to the logged-in user's authorized keys file. */
export namespace RegisterKeyRequest {
	export const method = 'auth/registerKey';
	export const messageDirection = MessageDirection.clientToServer;
	export const params = RegisterKeyParams;
	export const result = RegisterKeyResult;
	export const type = new ProtocolRequestType<RegisterKeyParams, RegisterKeyResult, never, void, void>(method);
	export const meta: MessageMeta = {
		since: '0.1.0',
		requiresLogin: true,
		errors: [ErrorCodes.InvalidParams, ErrorCodes.AuthMethodUnavailable],
		documentation:
			'Served as the user: the key is appended to `~/.config/spyder-remote/authorized_keys`, a file the user owns (mode 0600, directory 0700). ' +
			'Registering a key twice is not an error.',
	};
}

/** TLS exporter label for the channel binding that key logins sign (RFC 5705 / RFC 8446 section 7.5). */
export const LOGIN_EXPORTER_LABEL = 'EXPORTER-spyder-remote-login';
export const LOGIN_EXPORTER_LENGTH = 32;

const payloadContext = 'spyder-remote login v1';

/**
 * The exact bytes a key login signs: a context string, the user name, the
 * public key, the server's nonce and the TLS channel binding, each
 * length-prefixed so no two different inputs give the same bytes.
 */
export function publicKeyLoginPayload(input: { user: string; publicKey: Uint8Array; nonce: Uint8Array; channelBinding: Uint8Array }): Uint8Array {
	const encoder = new TextEncoder();
	const parts = [encoder.encode(payloadContext), encoder.encode(input.user), input.publicKey, input.nonce, input.channelBinding];
	const size = parts.reduce((sum, part) => sum + 4 + part.length, 0);
	const payload = new Uint8Array(size);
	const view = new DataView(payload.buffer);
	let offset = 0;
	for (const part of parts) {
		view.setUint32(offset, part.length);
		payload.set(part, offset + 4);
		offset += 4 + part.length;
	}
	return payload;
}
