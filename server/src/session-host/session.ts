import type { Socket } from 'node:net';
import {
	checkParams,
	ErrorCodes,
	ExitNotification,
	InitializeRequest,
	messagesByMethod,
	PingRequest,
	RegisterKeyRequest,
	ShutdownRequest,
	WhoamiRequest,
	type RegisterKeyParams,
	type WhoamiResult,
} from '@spyder-remote/protocol';
import { createProtocolConnection, type FramingLimits } from '@spyder-remote/protocol/node';
import { ResponseError, type CancellationToken } from 'vscode-jsonrpc/node';
import { AttachNotification } from '../common/internal.js';
import type { Logger } from '../log.js';
import { registerKey } from './keys.js';

export interface SessionContext {
	readonly logger: Logger;
	readonly limits: FramingLimits;
	readonly identity: WhoamiResult;
	/** Mirrors the daemon's announced keyRegistration capability. */
	readonly keyRegistration: boolean;
}

type Handler = (params: unknown, token: CancellationToken, connection: ClientSession) => unknown;

/** Post-login requests, each served as the user. */
const handlers = new Map<string, Handler>([
	[WhoamiRequest.method, (_params, _token, session) => session.context.identity],
	[PingRequest.method, () => ({})],
	[
		RegisterKeyRequest.method,
		(params, _token, session) => {
			if (!session.context.keyRegistration) throw new ResponseError(ErrorCodes.AuthMethodUnavailable, 'this server does not offer key login');
			return registerKey(session.context.identity.home, params as RegisterKeyParams);
		},
	],
	[
		ShutdownRequest.method,
		(_params, _token, session) => {
			session.shuttingDown = true;
			return null;
		},
	],
]);

/** One client connection, relayed by the daemon after login. */
export class ClientSession {
	shuttingDown = false;
	attach: AttachNotification.Params | undefined;

	constructor(
		socket: Socket,
		readonly context: SessionContext,
	) {
		const logger = context.logger;
		const { connection } = createProtocolConnection(socket, {
			limits: context.limits,
			onFramingError: (error) => logger.warn({ fault: error.fault, reason: error.message }, 'closing connection: bad frame'),
		});
		connection.onRequest((method, params, token) => this.dispatch(method, params, token));
		connection.onNotification((method, params) => {
			if (method === ExitNotification.method) socket.end();
			// Only the daemon's first message may describe the connection; a client cannot rewrite it later.
			else if (method === AttachNotification.method && !this.attach) this.attach = params as AttachNotification.Params;
		});
		connection.onError(([error]) => logger.debug({ err: error.message }, 'connection error'));
		connection.listen();
	}

	private async dispatch(method: string, params: unknown, token: CancellationToken): Promise<unknown> {
		if (this.shuttingDown) throw new ResponseError(ErrorCodes.ShuttingDown, 'shutdown was requested on this connection');
		const definition = messagesByMethod.get(method);
		if (!definition || definition.kind !== 'request') throw new ResponseError(ErrorCodes.MethodNotFound, `unknown method ${JSON.stringify(method.slice(0, 64))}`);
		if (!definition.meta.requiresLogin && method !== ShutdownRequest.method) {
			throw method === InitializeRequest.method
				? new ResponseError(ErrorCodes.InvalidRequest, 'initialize may be sent only once')
				: new ResponseError(ErrorCodes.AlreadyAuthenticated, 'this connection is already logged in');
		}
		const problem = checkParams(definition, params);
		if (problem) throw new ResponseError(ErrorCodes.InvalidParams, problem);
		const handler = handlers.get(method);
		if (!handler) throw new ResponseError(ErrorCodes.MethodNotFound, `${method} is not implemented by this server`);
		try {
			return await handler(params, token, this);
		} catch (error) {
			if (error instanceof ResponseError) throw error;
			this.context.logger.error({ method, err: (error as Error).message }, 'request failed');
			throw new ResponseError(ErrorCodes.InternalError, `${method} failed: ${(error as Error).message}`);
		}
	}
}
