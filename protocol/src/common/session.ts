import { ProtocolRequestType0 } from 'vscode-languageserver-protocol';
import { MessageDirection, type MessageMeta } from './messages.js';
import { Type, UserName, type Static } from './schema.js';

export const WhoamiResult = Type.Object({
	user: UserName,
	uid: Type.Integer({ minimum: 0 }),
	gid: Type.Integer({ minimum: 0 }),
	groups: Type.Array(Type.Object({ gid: Type.Integer({ minimum: 0 }), name: Type.Optional(Type.String()) }), {
		description: 'Every group the session host runs with, the primary one included.',
	}),
	home: Type.String(),
	pid: Type.Integer({ description: "The session host's process id." }),
});
export type WhoamiResult = Static<typeof WhoamiResult>;

/** The session host describes the identity it runs with. */
export namespace WhoamiRequest {
	export const method = 'session/whoami';
	export const messageDirection = MessageDirection.clientToServer;
	export const params = undefined;
	export const result = WhoamiResult;
	export const type = new ProtocolRequestType0<WhoamiResult, never, void, void>(method);
	export const meta: MessageMeta = {
		since: '0.1.0',
		requiresLogin: true,
		errors: [],
		documentation: 'Answered by the session host from its own process credentials, not computed by the daemon: it shows what every later request runs as.',
	};
}

export const PingResult = Type.Object({});
export type PingResult = Static<typeof PingResult>;

/** A no-op served by the session host: a liveness check, and the unit of the latency benchmark. */
export namespace PingRequest {
	export const method = 'session/ping';
	export const messageDirection = MessageDirection.clientToServer;
	export const params = undefined;
	export const result = PingResult;
	export const type = new ProtocolRequestType0<PingResult, never, void, void>(method);
	export const meta: MessageMeta = { since: '0.1.0', requiresLogin: true, errors: [], documentation: 'Answers `{}`.' };
}
