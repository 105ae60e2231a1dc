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
import { closeAfterFramingError, encodeFrame, FrameDecoder, FrameMessageWriter, FramingError, parseMessage, splice } from '@spyder-remote/protocol/node';
import { Message, ResponseError, type RequestMessage } from 'vscode-jsonrpc/node';
import { AttachNotification } from '../common/host-wire.js';
import type { Logger } from '../common/log.js';
import type { Account } from './accounts.js';

/** What a login connection needs from the daemon; kept narrow so this module parses and decides little. */
export interface LoginServices {
	readonly logger: Logger;
	/** The largest frame accepted before login; after login the session host's limits apply. */
	readonly maxPreLoginMessageBytes: number;
	readonly maxHeaderBytes: number;
	readonly preLoginBudget: PreLoginBudget;
	readonly maxAuthTries: number;
	readonly authMethods: readonly AuthMethod[];
	readonly serverInfo: InitializeResult['serverInfo'];
	readonly banner?: string;
	readonly capabilities: InitializeResult['capabilities'];
	/** Milliseconds a login for this user from this source must wait first. */
	waitBeforeLogin(source: string, user: string): number;
	recordLogin(source: string, user: string, ok: boolean): void;
	verifyPassword(user: string, password: string, source: string): Promise<Account | undefined>;
	verifyKey(user: string, publicKey: string, signature: string, payload: Uint8Array, source: string): Promise<Account | undefined>;
	/** Connects to the user's session host; throws when it cannot be had. `logger` is this connection's, for what goes wrong on the way. */
	openSession(account: Account, logger: Logger): Promise<Socket>;
}

/** Login messages are flat; nothing before login needs to nest deeper. */
const preLoginMaxNestingDepth = 32;
/** A method name is echoed in errors and logs only this far. */
const shownMethodLength = 64;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * The bytes that unauthenticated connections make the daemon hold, counted
 * across all of them; one per daemon. A connection past `perConnection` is
 * paused until it has been served, so a pipelining client only waits.
 */
export class PreLoginBudget {
	private held = 0;

	constructor(
		readonly perConnection: number,
		readonly total: number,
	) {}

	get heldBytes(): number {
		return this.held;
	}

	/** Counts `bytes` more (fewer, if negative); whether the total is still within budget. */
	hold(bytes: number): boolean {
		this.held += bytes;
		return this.held <= this.total;
	}
}

/**
 * One client connection from TLS handshake to login. It serves only the
 * lifecycle and login methods, one message at a time, and decodes a frame
 * only when the one before it has been answered: what the client pipelines
 * stays raw bytes in the decoder (bounded by the budget). Once a login
 * succeeds those bytes, unparsed, and the rest of the decrypted stream are
 * spliced to the user's session host, which serves everything else as the user.
 */
export class LoginConnection {
	private readonly decoder: FrameDecoder;
	private readonly writer: FrameMessageWriter;
	/** A message is being served; frames behind it wait undecoded. */
	private serving = false;
	/** The bytes this connection has counted against the budget. */
	private heldBytes = 0;
	private paused = false;
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
		this.decoder = new FrameDecoder({ maxHeaderBytes: services.maxHeaderBytes, maxMessageBytes: services.maxPreLoginMessageBytes });
		this.writer = new FrameMessageWriter(socket);
		socket.on('data', this.onData);
		socket.once('close', () => this.release());
	}

	private readonly onData = (chunk: Buffer): void => {
		this.decoder.push(chunk);
		if (!this.account()) {
			this.stopReading();
			const budget = this.services.preLoginBudget;
			this.services.logger.warn(
				{ heldBytes: this.heldBytes, totalBytes: budget.heldBytes, limit: budget.total },
				'closing connection: unauthenticated connections hold more than limits.maxPreLoginTotalBytes',
			);
			this.socket.destroy();
			return;
		}
		void this.serve();
	};

	/** Serves the frames received so far, one at a time, until one is incomplete or a login succeeds. */
	private async serve(): Promise<void> {
		if (this.serving) return;
		this.serving = true;
		while (!this.relaying && !this.socket.destroyed && !this.socket.writableEnded) {
			let message: Message;
			try {
				const body = this.decoder.next();
				if (!body) break;
				message = parseMessage(body, preLoginMaxNestingDepth);
			} catch (error) {
				this.framingError(error as FramingError);
				break;
			}
			this.account();
			await this.handle(message);
		}
		this.serving = false;
		this.account();
	}

	/**
	 * Brings the budget up to date with the bytes the decoder holds, and
	 * pauses reading while this connection holds its full share. False when
	 * the daemon-wide total is over budget and this connection holds more
	 * than one frame's worth: a small client still gets its login through.
	 */
	private account(): boolean {
		if (this.relaying) return true;
		const held = this.decoder.bufferedBytes;
		const budget = this.services.preLoginBudget;
		const withinTotal = budget.hold(held - this.heldBytes);
		this.heldBytes = held;
		const full = held >= budget.perConnection;
		if (full !== this.paused) {
			this.paused = full;
			if (full) this.socket.pause();
			else this.socket.resume();
		}
		return withinTotal || held <= this.services.maxPreLoginMessageBytes;
	}

	private release(): void {
		this.services.preLoginBudget.hold(-this.heldBytes);
		this.heldBytes = 0;
	}

	private stopReading(): void {
		this.socket.off('data', this.onData);
	}

	/** Logged once: nothing after the fault is decoded. */
	private framingError(error: FramingError): void {
		this.stopReading();
		this.services.logger.warn({ fault: error.fault, reason: error.message }, 'closing connection: bad frame');
		closeAfterFramingError(this.socket, this.writer, error);
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
			const responseError = error instanceof ResponseError ? error : new ResponseError(ErrorCodes.InternalError, 'internal error');
			if (!(error instanceof ResponseError)) this.services.logger.error({ err: error }, 'login request failed');
			this.send({ jsonrpc: '2.0', id: message.id, error: responseError.toJson() } as Message);
			if (responseError.code === ErrorCodes.TooManyAuthAttempts) this.socket.end();
		}
	}

	private send(message: Message): void {
		// A write fails only once the connection is gone, and its close handler already cleans up.
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
			...(this.services.banner !== undefined && { banner: this.services.banner }),
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
			account = await this.services.verifyKey(params.user, params.publicKey, params.signature, payload, this.source);
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
			hostSocket = await this.services.openSession(account, this.services.logger);
		} catch (error) {
			this.services.logger.error({ user, err: (error as Error).message }, 'no session host');
			throw new ResponseError(ErrorCodes.SessionUnavailable, 'the session for this user could not be started; see the server log');
		}
		this.services.logger.info({ user, authMethod }, 'login succeeded');
		this.relay(hostSocket, account, authMethod);
		return relayed;
	}

	/**
	 * Answers the login, then splices the TLS stream to the session host. The
	 * bytes the client pipelined behind the login frame go first, as they
	 * came: never decoded here, so the session host's limits judge them.
	 */
	private relay(hostSocket: Socket, account: Account, authMethod: AuthMethod): void {
		this.stopReading();
		const pending = this.decoder.takeRemaining();
		this.release();
		this.relaying = true;
		const loginId = this.current!.id;
		this.onLogin(account.name);
		const frame = (message: unknown) => encodeFrame(Buffer.from(JSON.stringify(message), 'utf8'));
		this.socket.write(frame({ jsonrpc: '2.0', id: loginId, result: { user: account.name } }));
		const attach: AttachNotification.Params = { peer: this.source, authMethod, initialize: this.initializeParams! };
		hostSocket.write(frame({ jsonrpc: '2.0', method: AttachNotification.method, params: attach }));
		splice(this.socket, hostSocket, pending);
	}
}

const relayed = Symbol('relayed');
