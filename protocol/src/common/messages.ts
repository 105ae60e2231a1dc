import { MessageDirection } from 'vscode-languageserver-protocol';
import type { TSchema } from './schema.js';

export { MessageDirection };

/**
 * What the spec and the meta model say about a message beyond its shape.
 * Every message namespace carries one, so nothing is kept twice.
 */
export interface MessageMeta {
	/** Protocol version that introduced the message. */
	readonly since: string;
	/** False for the few messages a connection may send before login. */
	readonly requiresLogin: boolean;
	/** Error codes the message may answer with, beyond the generic ones. */
	readonly errors: readonly number[];
	/** The request reports `$/progress` when the client passes a workDoneToken. */
	readonly progress?: boolean;
	/** `$/cancelRequest` stops the request's work. */
	readonly cancellable?: boolean;
	readonly documentation: string;
}

export interface RequestDefinition {
	readonly kind: 'request';
	readonly method: string;
	readonly messageDirection: MessageDirection;
	/** Undefined for requests without params. */
	readonly params: TSchema | undefined;
	readonly result: TSchema;
	readonly meta: MessageMeta;
}

export interface NotificationDefinition {
	readonly kind: 'notification';
	readonly method: string;
	readonly messageDirection: MessageDirection;
	readonly params: TSchema | undefined;
	readonly meta: MessageMeta;
}

export type MessageDefinition = RequestDefinition | NotificationDefinition;

/** A message namespace as an entry of a registry list: the namespace is the definition, tagged as a request. */
export function asRequest<Definition extends object>(definition: Definition): Definition & { readonly kind: 'request' } {
	return { kind: 'request', ...definition };
}

/** A message namespace as an entry of a registry list, tagged as a notification. */
export function asNotification<Definition extends object>(definition: Definition): Definition & { readonly kind: 'notification' } {
	return { kind: 'notification', ...definition };
}
