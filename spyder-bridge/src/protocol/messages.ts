import { MessageDirection, type Static, type TSchema } from '@spyder-remote/protocol';

export { MessageDirection };

/**
 * What the README and the plugin's generated constants say about a bridge
 * message beyond its shape. The plugin is the client (`clientToServer`:
 * plugin → bridge), the bridge the server.
 */
export interface BridgeMessageMeta {
	/**
	 * Error codes the message may answer with, beyond the generic ones (see
	 * `genericBridgeErrors`): the bridge's own, and the server's that pass
	 * through.
	 */
	readonly errors: readonly number[];
	/** The request sends `operation/progress` when the plugin passes an `operation`. */
	readonly progress?: boolean;
	/** `$/cancelRequest` stops the request's work. */
	readonly cancellable?: boolean;
	readonly documentation: string;
}

export interface BridgeRequestDefinition {
	readonly kind: 'request';
	readonly method: string;
	readonly messageDirection: MessageDirection;
	readonly params: TSchema;
	readonly result: TSchema;
	readonly meta: BridgeMessageMeta;
}

export interface BridgeNotificationDefinition {
	readonly kind: 'notification';
	readonly method: string;
	readonly messageDirection: MessageDirection;
	readonly params: TSchema;
	readonly meta: BridgeMessageMeta;
}

export type BridgeMessageDefinition = BridgeRequestDefinition | BridgeNotificationDefinition;

type DeepReadonly<T> = T extends readonly (infer Item)[]
	? readonly DeepReadonly<Item>[]
	: T extends object
		? { readonly [Key in keyof T]: DeepReadonly<T[Key]> }
		: T;

/**
 * The TypeScript type of a schema's values, read-only all the way down: the
 * bridge passes on what the client library hands it (read-only arrays
 * included) without copying.
 */
export type ReadonlyStatic<Schema extends TSchema> = DeepReadonly<Static<Schema>>;
