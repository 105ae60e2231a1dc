import type { InitializeParams } from '@spyder-remote/protocol';

/**
 * Daemon-to-session-host messages. Not part of the public protocol: they
 * travel only on the local socket, before the client's relayed bytes.
 */
export namespace AttachNotification {
	export const method = 'sessionHost/attach';
	export interface Params {
		/** The client's address as the daemon saw it. */
		readonly peer: string;
		readonly authMethod: 'password' | 'publicKey';
		readonly initialize: InitializeParams;
	}
}
