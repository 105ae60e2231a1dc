import {
	PingRequest,
	RegisterKeyRequest,
	ServerCapabilitiesRequest,
	ShutdownRequest,
	WhoamiRequest,
	ErrorCodes,
	type RegisterKeyParams,
} from '@spyder-remote/protocol';
import { ResponseError } from 'vscode-jsonrpc/node';
import { environmentHandlers } from './environments/handlers.js';
import { kernelHandlers } from './kernels/handlers.js';
import { registerKey } from './keys.js';
import type { Handler } from './session.js';

/** Every post-login request the session host serves, by method. */
export const handlers: ReadonlyMap<string, Handler> = new Map<string, Handler>([
	[WhoamiRequest.method, (_params, { session }) => session.services.identity],
	[PingRequest.method, () => ({})],
	[ServerCapabilitiesRequest.method, async (_params, { session }) => ({ slurm: await session.services.slurm.capabilities() })],
	[
		RegisterKeyRequest.method,
		(params: RegisterKeyParams, { session }) => {
			if (!session.services.keyRegistration) throw new ResponseError(ErrorCodes.AuthMethodUnavailable, 'this server does not offer key login');
			return registerKey(session.services.identity.home, params);
		},
	],
	[
		ShutdownRequest.method,
		(_params, { session }) => {
			session.shuttingDown = true;
			return null;
		},
	],
	...environmentHandlers,
	...kernelHandlers,
]);
