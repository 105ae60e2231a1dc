import { ErrorCodes, HostKeyMismatchError, RemoteError, UnknownHostError } from '@spyder-remote/client';
import { ResponseError } from 'vscode-jsonrpc/node';
import { BridgeErrorCodes } from './protocol/main.js';

/** Where a failure happened, so that the sentence can name it. */
export interface ErrorContext {
	readonly server?: string;
	readonly knownHostsFile?: string;
	readonly user?: string;
}

export class BridgeError extends ResponseError<undefined> {
	constructor(code: number, message: string) {
		super(code, message);
	}
}

/** What each connect failure means, as the end of a sentence. */
const networkCodes: Record<string, string> = {
	ECONNREFUSED: 'the connection was refused. Is ssd-server running there, on this port?',
	ENOTFOUND: 'that host name is not known.',
	EAI_AGAIN: 'the host name could not be looked up.',
	EHOSTUNREACH: 'the host cannot be reached from this network.',
	ENETUNREACH: 'the network is unreachable.',
	ETIMEDOUT: 'the connection timed out.',
	ECONNRESET: 'the connection was closed by the other side.',
};

/**
 * Turns whatever failed into one JSON-RPC error the plugin shows as is: a
 * sentence a person understands, never a stack. The code lets the plugin
 * react (e.g. put the cursor back into the password field).
 */
export function toResponseError(error: unknown, context: ErrorContext = {}): ResponseError<unknown> {
	if (error instanceof ResponseError) return error;
	const where = context.server ?? 'the server';
	if (error instanceof HostKeyMismatchError) {
		return new BridgeError(
			BridgeErrorCodes.HostKeyChanged,
			`The certificate of ${error.host} has changed. This computer remembers ${error.expected}, but the server now presents ${error.presented}. ` +
				'Someone may be intercepting the connection, or the server was given a new certificate. ' +
				`Ask the server's administrator for its fingerprint (ssd-server fingerprint). Only if they confirm the new one, remove the line for ${error.host} from ${context.knownHostsFile ?? 'known_hosts'} and connect again.`,
		);
	}
	if (error instanceof UnknownHostError) {
		return new BridgeError(BridgeErrorCodes.HostNotTrusted, `You did not trust ${error.host}, so nothing was sent to it.`);
	}
	if (error instanceof RemoteError) return new ResponseError(error.code, remoteMessage(error, context));
	const code = (error as NodeJS.ErrnoException).code;
	if (code && networkCodes[code]) return new BridgeError(BridgeErrorCodes.Unreachable, `Cannot connect to ${where}: ${networkCodes[code]}`);
	const message = error instanceof Error ? error.message : String(error);
	if (/timed out/.test(message)) return new BridgeError(BridgeErrorCodes.Unreachable, `Cannot connect to ${where}: the connection timed out.`);
	if (/ALPN|protocol version mismatch/.test(message))
		return new BridgeError(BridgeErrorCodes.NotSpyderRemote, `${where} is not a spyder-remote server this Spyder can use: ${message}.`);
	if (/socket disconnected|TLS|SSL/i.test(message))
		return new BridgeError(
			BridgeErrorCodes.NotSpyderRemote,
			`${where} did not complete a secure connection; it is probably not a spyder-remote server (${message}).`,
		);
	return new BridgeError(BridgeErrorCodes.Internal, message);
}

function remoteMessage(error: RemoteError, context: ErrorContext): string {
	switch (error.code) {
		case ErrorCodes.AuthenticationFailed:
			return `Login to ${context.server ?? 'the server'} failed: the user name or password is wrong, or the account may not log in.`;
		case ErrorCodes.TooManyAuthAttempts:
			return `Too many failed logins on this connection to ${context.server ?? 'the server'}. Connect again to retry.`;
		case ErrorCodes.Unauthenticated:
			return 'This connection is not logged in (any more). Log in again.';
		default:
			return error.message;
	}
}
