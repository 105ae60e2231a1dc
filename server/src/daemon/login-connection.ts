import { randomBytes } from 'node:crypto';
import type { Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import {
	checkParams,
	ErrorCodes,
	InitializeRequest,
	isCompatibleVersion,
	LOGIN_EXPORTER_LABEL,
	LOGIN_EXPORTER_LENGTH,
	LoginChallengeRequest,
	messagesByMethod,
	PasswordLoginRequest,
	PROTOCOL_VERSION,
	publicKeyLoginPayload,
	PublicKeyLoginRequest,
	ShutdownRequest,
	type AuthMethod,
	type ChallengeParams,
	type InitializeParams,
	type InitializeResult,
	type PasswordLoginParams,
	type PublicKeyLoginParams,
} from '@spyder-remote/protocol';
import { BoundedMessageReader, closeAfterFramingError, encodeFrame, FrameMessageWriter, FramingError, splice } from '@spyder-remote/protocol/node';
import { Message, ResponseError, type RequestMessage } from 'vscode-jsonrpc/node';
import { AttachNotification } from '../common/internal.js';
import type { Logger } from '../log.js';
import type { Account } from './accounts.js';

/** What a login connection needs from the daemon; kept narrow so this module parses and decides little. */
export interface LoginServices {
	readonly logger: Logger;
	readonly maxMessageBytes: number;
	readonly maxHeaderBytes: number;
	readonly maxAuthTries: number;
	readonly authMethods: readonly AuthMethod[];
	readonly serverInfo: InitializeResult['serverInfo'];
	readonly capabilities: InitializeResult['capabilities'];
	/** Milliseconds a login for this user from this source must wait first. */
	waitBeforeLogin(source: string, user: string): number;
	recordLogin(source: string, user: string, ok: boolean): void;
	verifyPassword(user: string, password: string, source: string): Promise<Account | undefined>;
	verifyKey(user: string, publicKey: string, signature: string, payload: Uint8Array): Promise<Account | undefined>;
	/** Connects to the user's session host; throws when it cannot be had. */
	openSession(account: Account): Promise<Socket>;
}

/** Before login nobody gets to queue much: a client waits for each answer. */
const maxQueuedMessages = 32;
/** A method name is echoed in errors and logs only this far. */
const shownMethodLength = 64;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * One client connection from TLS handshake to login. It serves only the
 * lifecycle and login methods, one message at a time. Once a login succeeds
 * it stops parsing: the decrypted byte stream is spliced to the user's
 * session host, which serves everything else as the user.
 */
export class LoginConnection {
	private readonly reader: BoundedMessageReader;
	private readonly writer: FrameMessageWriter;
	private readonly queue: Message[] = [];
	private processing = false;
	private initializeParams: InitializeParams | undefined;
	private shuttingDown = false;
	private relaying = false;
	private failures = 0;
	/** The request being served; a successful login answers it from relay(). */
	private current: RequestMessage | undefined;
	private challenge: (ChallengeParams & { nonce: Buffer }) | undefined;
	private readonly source: string;

	constructor(
		private readonly socket: TLSSocket,
		private readonly services: LoginServices,
		private readonly onLogin: (user: string) => void,
	) {
		this.source = socket.remoteAddress ?? 'unknown';
		socket.setNoDelay(true);
		this.reader = new BoundedMessageReader(socket, { maxHeaderBytes: services.maxHeaderBytes, maxMessageBytes: services.maxMessageBytes });
		this.writer = new FrameMessageWriter(socket);
		this.reader.onError((error) => {
			if (!(error instanceof FramingError)) return;
			services.logger.warn({ fault: error.fault, reason: error.message }, 'closing connection: bad frame');
			closeAfterFramingError(socket, this.writer, error);
		});
		this.reader.listen((message) => this.enqueue(message));
	}

	private enqueue(message: Message): void {
		if (this.queue.length >= maxQueuedMessages) {
			this.services.logger.warn('closing connection: too many messages queued before login');
			this.socket.destroy();
			return;
		}
		this.queue.push(message);
		void this.drain();
	}

	private async drain(): Promise<void> {
		if (this.processing) return;
		this.processing = true;
		while (this.queue.length > 0 && !this.relaying && !this.socket.destroyed) {
			await this.handle(this.queue.shift()!);
		}
		this.processing = false;
	}

	private async handle(message: Message): Promise<void> {
		if (Message.isNotification(message)) {
			if (message.method === 'exit') this.socket.end();
			return;
		}
		// The daemon sends no requests, so responses are stray; ignoring them is all JSON-RPC allows.
		if (!Message.isRequest(message)) return;
		this.current = message;
		try {
			const result = await this.dispatch(message);
			if (result !== relayed) this.send({ jsonrpc: '2.0', id: message.id, result } as Message);
		} catch (error) {
			const responseError =
				error instanceof ResponseError ? error : new ResponseError(ErrorCodes.InternalError, 'internal error');
			if (!(error instanceof ResponseError)) this.services.logger.error({ err: error }, 'login request failed');
			this.send({ jsonrpc: '2.0', id: message.id, error: responseError.toJson() } as Message);
			if (responseError.code === ErrorCodes.TooManyAuthAttempts) this.socket.end();
		}
	}

	private send(message: Message): void {
		this.writer.write(message).catch(() => undefined);
	}

	private async dispatch(request: RequestMessage): Promise<unknown> {
		const method = request.method;
		if (this.shuttingDown) throw new ResponseError(ErrorCodes.ShuttingDown, 'shutdown was requested on this connection');
		const definition = messagesByMethod.get(method);
		if (!definition || definition.kind !== 'request') {
			throw new ResponseError(ErrorCodes.MethodNotFound, `unknown method ${JSON.stringify(method.slice(0, shownMethodLength))}`);
		}
		if (!this.initializeParams && method !== InitializeRequest.method && method !== ShutdownRequest.method) {
			throw new ResponseError(ErrorCodes.ServerNotInitialized, `${method} before initialize`);
		}
		if (definition.meta.requiresLogin) throw new ResponseError(ErrorCodes.Unauthenticated, `${method} requires login`);
		const problem = checkParams(definition, request.params);
		if (problem) throw new ResponseError(ErrorCodes.InvalidParams, problem);
		switch (method) {
			case InitializeRequest.method:
				return this.initialize(request.params as InitializeParams);
			case ShutdownRequest.method:
				this.shuttingDown = true;
				return null;
			case PasswordLoginRequest.method:
				return this.passwordLogin(request.params as PasswordLoginParams);
			case LoginChallengeRequest.method:
				return this.issueChallenge(request.params as ChallengeParams);
			case PublicKeyLoginRequest.method:
				return this.publicKeyLogin(request.params as PublicKeyLoginParams);
			default:
				throw new ResponseError(ErrorCodes.MethodNotFound, `${method} is not served here`);
		}
	}

	private initialize(params: InitializeParams): InitializeResult {
		if (this.initializeParams) throw new ResponseError(ErrorCodes.InvalidRequest, 'initialize may be sent only once');
		if (!isCompatibleVersion(PROTOCOL_VERSION, params.protocolVersion)) {
			throw new ResponseError(
				ErrorCodes.ProtocolVersionMismatch,
				`protocol version mismatch: client speaks ${params.protocolVersion}, server speaks ${PROTOCOL_VERSION}`,
			);
		}
		this.initializeParams = params;
		return {
			protocolVersion: PROTOCOL_VERSION,
			serverInfo: this.services.serverInfo,
			capabilities: this.services.capabilities,
		};
	}

	private requireMethod(method: AuthMethod): void {
		if (!this.services.authMethods.includes(method)) throw new ResponseError(ErrorCodes.AuthMethodUnavailable, `${method} login is not offered by this server`);
	}

	private async passwordLogin(params: PasswordLoginParams): Promise<unknown> {
		this.requireMethod('password');
		await this.throttle(params.user);
		const account = await this.services.verifyPassword(params.user, params.password, this.source);
		return this.finishLogin(params.user, account, 'password');
	}

	private issueChallenge(params: ChallengeParams): { nonce: string } {
		this.requireMethod('publicKey');
		const nonce = randomBytes(32);
		this.challenge = { ...params, nonce };
		return { nonce: nonce.toString('base64') };
	}

	private async publicKeyLogin(params: PublicKeyLoginParams): Promise<unknown> {
		this.requireMethod('publicKey');
		const challenge = this.challenge;
		this.challenge = undefined;
		await this.throttle(params.user);
		let account: Account | undefined;
		if (challenge && challenge.user === params.user && challenge.publicKey === params.publicKey) {
			const payload = publicKeyLoginPayload({
				user: params.user,
				publicKey: Buffer.from(params.publicKey, 'base64'),
				nonce: challenge.nonce,
				channelBinding: this.socket.exportKeyingMaterial(LOGIN_EXPORTER_LENGTH, LOGIN_EXPORTER_LABEL, Buffer.alloc(0)),
			});
			account = await this.services.verifyKey(params.user, params.publicKey, params.signature, payload);
		}
		return this.finishLogin(params.user, account, 'publicKey');
	}

	private async throttle(user: string): Promise<void> {
		const wait = this.services.waitBeforeLogin(this.source, user);
		if (wait > 0) await sleep(wait);
	}

	private async finishLogin(user: string, account: Account | undefined, authMethod: AuthMethod): Promise<typeof relayed> {
		this.services.recordLogin(this.source, user, account !== undefined);
		if (!account) {
			this.failures += 1;
			this.services.logger.info({ user, authMethod, failures: this.failures }, 'login failed');
			if (this.failures >= this.services.maxAuthTries) {
				throw new ResponseError(ErrorCodes.TooManyAuthAttempts, `too many failed logins (${this.failures}); closing the connection`);
			}
			throw new ResponseError(ErrorCodes.AuthenticationFailed, 'authentication failed');
		}
		let hostSocket: Socket;
		try {
			hostSocket = await this.services.openSession(account);
		} catch (error) {
			this.services.logger.error({ user, err: (error as Error).message }, 'no session host');
			throw new ResponseError(ErrorCodes.SessionUnavailable, 'the session for this user could not be started; see the server log');
		}
		this.services.logger.info({ user, authMethod }, 'login succeeded');
		this.relay(hostSocket, account, authMethod);
		return relayed;
	}

	/**
	 * Answers the login, then splices the TLS stream to the session host. Any
	 * message the client pipelined behind the login goes first, in order, so
	 * nothing sent is lost.
	 */
	private relay(hostSocket: Socket, account: Account, authMethod: AuthMethod): void {
		this.relaying = true;
		const pending = this.reader.detach();
		const loginId = this.current!.id;
		this.onLogin(account.name);
		const frame = (message: unknown) => encodeFrame(Buffer.from(JSON.stringify(message), 'utf8'));
		this.socket.write(frame({ jsonrpc: '2.0', id: loginId, result: { user: account.name } }));
		const attach: AttachNotification.Params = { peer: this.source, authMethod, initialize: this.initializeParams! };
		hostSocket.write(frame({ jsonrpc: '2.0', method: AttachNotification.method, params: attach }));
		for (const message of this.queue.splice(0)) hostSocket.write(frame(message));
		splice(this.socket, hostSocket, pending);
	}
}

const relayed = Symbol('relayed');
