import { errorCodeNames } from '@spyder-remote/protocol';
import { ResponseError } from 'vscode-jsonrpc/node';

/** The server answered a request with a JSON-RPC error. `code` is one of the protocol's ErrorCodes. */
export class RemoteError extends Error {
	override name = 'RemoteError';
	constructor(
		readonly code: number,
		message: string,
		readonly data?: unknown,
	) {
		super(message);
	}

	get codeName(): string {
		return errorCodeNames.get(this.code) ?? String(this.code);
	}

	static from(error: unknown): unknown {
		return error instanceof ResponseError ? new RemoteError(error.code, error.message, error.data) : error;
	}
}

/** The server presented a certificate other than the one pinned for it. Never retried, never overridden silently. */
export class HostKeyMismatchError extends Error {
	override name = 'HostKeyMismatchError';
	constructor(
		readonly host: string,
		readonly expected: string,
		readonly presented: string,
		source: string,
	) {
		super(
			`the certificate of ${host} has changed: ${source} pins ${expected}, the server presented ${presented}. ` +
				'Someone may be intercepting the connection, or the server was given a new certificate. ' +
				'Connect only after you have confirmed the new fingerprint with the server\'s administrator (ssd-server fingerprint), then pass it with --fingerprint.',
		);
	}
}

/** No pin exists for the server and the caller did not accept its certificate. */
export class UnknownHostError extends Error {
	override name = 'UnknownHostError';
	constructor(
		readonly host: string,
		readonly presented: string,
	) {
		super(`${host} is not a known host; its certificate fingerprint is ${presented}. Check it with the server's administrator, then pass --fingerprint ${presented} (or --accept-new).`);
	}
}
