import type { Socket } from 'node:net';
import { checkParams, ErrorCodes, ExitNotification, InitializeRequest, messagesByMethod, ShutdownRequest, type WhoamiResult } from '@spyder-remote/protocol';
import { createProtocolConnection, type FramingLimits } from '@spyder-remote/protocol/node';
import { ResponseError, type CancellationToken, type MessageConnection } from 'vscode-jsonrpc/node';
import { AttachNotification } from '../common/host-wire.js';
import type { Logger } from '../common/log.js';
import type { EnvironmentAdmin } from './environments/admin.js';
import type { EnvironmentCatalog } from './environments/catalog.js';
import type { KernelManager } from './kernels/manager.js';
import type { SlurmKernels } from './kernels/slurm/slurm-kernels.js';
import type { TunnelTokens } from './kernels/tunnel.js';
import { WorkDoneReporter } from './progress.js';

/** What every connection of the session host shares. */
export interface SessionServices {
	readonly logger: Logger;
	readonly limits: FramingLimits;
	readonly identity: WhoamiResult;
	/** Mirrors the daemon's announced keyRegistration capability. */
	readonly keyRegistration: boolean;
	readonly catalog: EnvironmentCatalog;
	readonly admin: EnvironmentAdmin;
	readonly kernels: KernelManager;
	readonly tunnels: TunnelTokens;
	readonly slurm: SlurmKernels;
	/** Every open connection of this user, for notifications. */
	readonly sessions: Set<ClientSession>;
}

/** One request being served: who asked, how to cancel, where progress goes. */
export interface RequestContext {
	readonly session: ClientSession;
	readonly token: CancellationToken;
	readonly signal: AbortSignal;
	readonly progress: WorkDoneReporter;
}

// Each handler types its own params, which the table validated against the method's schema before the call.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type Handler = (params: any, request: RequestContext) => unknown;

/** One client connection, relayed by the daemon after login. */
export class ClientSession {
	shuttingDown = false;
	private attached = false;
	/** The spyder-kernels range of this connection's last environment/list, for the compatibility in notifications. */
	spyderKernelsRange: string | undefined;
	readonly connection: MessageConnection;

	constructor(
		socket: Socket,
		readonly services: SessionServices,
		private readonly handlers: ReadonlyMap<string, Handler>,
	) {
		const logger = services.logger;
		this.connection = createProtocolConnection(socket, {
			limits: services.limits,
			onFramingError: (error) => logger.warn({ fault: error.fault, reason: error.message }, 'closing connection: bad frame'),
		}).connection;
		this.connection.onRequest((method, params, token) => this.dispatch(method, params, token));
		this.connection.onNotification((method, params) => {
			if (method === ExitNotification.method) socket.end();
			// Only the daemon's first message describes the connection; a client cannot add to the log later.
			else if (method === AttachNotification.method && !this.attached) {
				this.attached = true;
				const attach = params as AttachNotification.Params;
				logger.info({ peer: attach.peer, client: attach.initialize.clientInfo, authMethod: attach.authMethod }, 'client connected');
			}
		});
		this.connection.onError(([error]) => logger.debug({ err: error.message }, 'connection error'));
		services.sessions.add(this);
		socket.once('close', () => {
			services.sessions.delete(this);
			this.connection.dispose();
		});
		this.connection.listen();
	}

	private async dispatch(method: string, params: unknown, token: CancellationToken): Promise<unknown> {
		if (this.shuttingDown) throw new ResponseError(ErrorCodes.ShuttingDown, 'shutdown was requested on this connection');
		const definition = messagesByMethod.get(method);
		if (!definition || definition.kind !== 'request')
			throw new ResponseError(ErrorCodes.MethodNotFound, `unknown method ${JSON.stringify(method.slice(0, 64))}`);
		if (!definition.meta.requiresLogin && method !== ShutdownRequest.method) {
			throw method === InitializeRequest.method
				? new ResponseError(ErrorCodes.InvalidRequest, 'initialize may be sent only once')
				: new ResponseError(ErrorCodes.AlreadyAuthenticated, 'this connection is already logged in');
		}
		const problem = checkParams(definition, params);
		if (problem) throw new ResponseError(ErrorCodes.InvalidParams, problem);
		const handler = this.handlers.get(method);
		if (!handler) throw new ResponseError(ErrorCodes.MethodNotFound, `${method} is not implemented by this server`);
		// Most requests are quick and never look at cancellation or progress: build those only when asked for.
		let controller: AbortController | undefined;
		let subscription: { dispose(): void } | undefined;
		let progress: WorkDoneReporter | undefined;
		const connection = this.connection;
		const context: RequestContext = {
			session: this,
			token,
			get signal() {
				if (!controller) {
					const created = new AbortController();
					subscription = token.onCancellationRequested(() => created.abort());
					controller = created;
				}
				return controller.signal;
			},
			get progress() {
				progress ??= new WorkDoneReporter(connection, (params as { workDoneToken?: string | number } | undefined)?.workDoneToken);
				return progress;
			},
		};
		try {
			return await handler(params, context);
		} catch (error) {
			if (error instanceof ResponseError) throw error;
			this.services.logger.error({ method, err: (error as Error).message }, 'request failed');
			throw new ResponseError(ErrorCodes.InternalError, `${method} failed: ${(error as Error).message}`);
		} finally {
			subscription?.dispose();
		}
	}
}
