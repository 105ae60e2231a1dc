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

/** What pinned the fingerprint a server no longer presents: the caller's `fingerprint` option, or a known_hosts file. */
export type PinSource = { readonly kind: 'option' } | { readonly kind: 'known-hosts'; readonly file: string };

/**
 * The server presented a certificate other than the one pinned for it. Never
 * retried, never overridden silently. The message says what happened; how to
 * pin the new fingerprint is the caller's to say (a flag, a dialog).
 */
export class HostKeyMismatchError extends Error {
	override name = 'HostKeyMismatchError';
	constructor(
		readonly host: string,
		readonly expected: string,
		readonly presented: string,
		readonly pinnedBy: PinSource,
	) {
		super(
			`the certificate of ${host} has changed: ${pinnedBy.kind === 'option' ? 'the fingerprint given' : pinnedBy.file} pins ${expected}, the server presented ${presented}. ` +
				'Someone may be intercepting the connection, or the server was given a new certificate. ' +
				"Connect only after you have confirmed the new fingerprint with the server's administrator (ssd-server fingerprint).",
		);
	}
}

/** No pin exists for the server and the caller did not accept its certificate. How to accept it is the caller's to say. */
export class UnknownHostError extends Error {
	override name = 'UnknownHostError';
	constructor(
		readonly host: string,
		readonly presented: string,
	) {
		super(`${host} is not a known host; its certificate fingerprint is ${presented}. Check it with the server's administrator before trusting it.`);
	}
}
