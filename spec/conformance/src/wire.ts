/**
 * Talking to the server under test: TLS as spec section 2.1 asks, JSON-RPC
 * through vscode-jsonrpc for ordinary exchanges, and a raw peer that writes
 * exactly the bytes a check wants and reads the frames that come back.
 */
import { createHash } from 'node:crypto';
import { isIP } from 'node:net';
import { connect as tlsConnect, type ConnectionOptions, type TLSSocket } from 'node:tls';
import { ALPN_PROTOCOL, errorCodeNames, messagesByMethod, PROTOCOL_VERSION, validate } from '@spyder-remote/protocol';
import {
	CancellationTokenSource,
	createMessageConnection,
	ParameterStructures,
	ProgressType,
	RequestType,
	RequestType0,
	ResponseError,
	StreamMessageReader,
	StreamMessageWriter,
	type MessageConnection,
} from 'vscode-jsonrpc/node';

export interface Target {
	readonly host: string;
	readonly port: number;
	/** The fingerprint the server presented and the caller verified; every later connection must present it too. */
	readonly fingerprint: string;
}

/** The spec's fingerprint (5.7): SHA-256 of the DER certificate, unpadded base64. */
export function fingerprintOf(der: Buffer): string {
	return `SHA256:${createHash('sha256').update(der).digest('base64').replace(/=+$/, '')}`;
}

/** A check's assertion failed; the message says what the server did instead. */
export class CheckFailure extends Error {}

export function assert(condition: unknown, message: string): asserts condition {
	if (!condition) throw new CheckFailure(message);
}

export const codeName = (code: number) => `${errorCodeNames.get(code) ?? 'unknown code'} (${code})`;

/** Rejects when `promise` has not settled within `ms`, naming what was awaited. */
export function within<T>(ms: number, promise: Promise<T>, what: string): Promise<T> {
	let timer: NodeJS.Timeout | undefined;
	const timeout = new Promise<never>((_, reject) => {
		timer = setTimeout(() => reject(new CheckFailure(`${what}: nothing within ${ms} ms`)), ms);
	});
	return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Checks a result or notification against the protocol's own schema for that message. */
export function assertShape(method: string, part: 'params' | 'result', value: unknown): void {
	const definition = messagesByMethod.get(method);
	const schema = part === 'result' && definition?.kind === 'request' ? definition.result : definition?.params;
	if (!schema) throw new Error(`no ${part} schema for ${method}`);
	const problem = validate(schema, value);
	assert(problem === undefined, `${method} ${part} does not match the schema: ${problem}`);
}

/** Opens TLS 1.3 as a client must: SNI only for names, the given ALPN ids, trust decided by the caller. */
export function openTls(host: string, port: number, alpn: readonly string[], timeoutMs: number, extra: ConnectionOptions = {}): Promise<TLSSocket> {
	return new Promise((resolve, reject) => {
		const socket = tlsConnect({
			host,
			port,
			...(isIP(host) ? {} : { servername: host }),
			ALPNProtocols: [...alpn],
			minVersion: 'TLSv1.3',
			rejectUnauthorized: false,
			...extra,
		});
		socket.setNoDelay(true);
		const timer = setTimeout(() => socket.destroy(new Error(`TLS to ${host}:${port} did not complete within ${timeoutMs} ms`)), timeoutMs);
		socket.once('secureConnect', () => {
			clearTimeout(timer);
			socket.off('error', reject);
			resolve(socket);
		});
		socket.once('error', (error) => {
			clearTimeout(timer);
			reject(error);
		});
	});
}

/** TLS to the target, refusing a server that does not select `alpn` or presents another certificate. */
export async function openVerified(target: Target, alpn: string, timeoutMs = 10_000): Promise<TLSSocket> {
	const socket = await openTls(target.host, target.port, [alpn], timeoutMs);
	const presented = fingerprintOf(socket.getPeerCertificate().raw);
	if (socket.alpnProtocol !== alpn || presented !== target.fingerprint) {
		socket.destroy();
		throw new CheckFailure(`the server selected ALPN ${socket.alpnProtocol || 'none'} and presented ${presented}; expected ${alpn} and ${target.fingerprint}`);
	}
	// Whatever the peer does after a check, a late socket error must not crash the suite.
	socket.on('error', () => undefined);
	return socket;
}

export function initializeParams(protocolVersion = PROTOCOL_VERSION): object {
	return { protocolVersion, clientInfo: { name: 'ssd-conformance', version: PROTOCOL_VERSION }, capabilities: {} };
}

export interface Notification {
	readonly method: string;
	readonly params: any;
}

export interface RequestOptions {
	readonly cancel?: CancellationTokenSource;
	readonly timeoutMs?: number;
}

/** A JSON-RPC connection through vscode-jsonrpc. It records every notification in arrival order. */
export class RpcPeer {
	readonly notifications: Notification[] = [];
	private readonly listeners = new Set<() => void>();
	readonly closed: Promise<void>;

	private constructor(
		readonly socket: TLSSocket,
		readonly connection: MessageConnection,
	) {
		this.closed = new Promise((resolve) => socket.once('close', () => resolve()));
		connection.onNotification((method, params) => {
			this.notifications.push({ method, params });
			for (const wake of this.listeners) wake();
		});
		connection.onClose(() => connection.dispose());
		connection.listen();
	}

	static async open(target: Target): Promise<RpcPeer> {
		const socket = await openVerified(target, ALPN_PROTOCOL);
		return new RpcPeer(socket, createMessageConnection(new StreamMessageReader(socket), new StreamMessageWriter(socket)));
	}

	/** Sends a request; `params` undefined leaves the member out. Rejects with ResponseError on an error answer. */
	request(method: string, params?: object, options: RequestOptions = {}): Promise<any> {
		const token = options.cancel?.token;
		const sent =
			params === undefined
				? this.connection.sendRequest(new RequestType0<unknown, unknown>(method), token)
				: this.connection.sendRequest(new RequestType<object, unknown, unknown>(method, ParameterStructures.byName), params, token);
		return within(options.timeoutMs ?? 15_000, sent, `the answer to ${method}`);
	}

	notify(method: string, params?: object): Promise<void> {
		return params === undefined ? this.connection.sendNotification(method) : this.connection.sendNotification(method, params);
	}

	onProgress(token: string, handler: (value: any) => void): void {
		this.connection.onProgress(new ProgressType<unknown>(), token, handler);
	}

	/** The first notification, received or still to come, that `wanted` accepts. */
	async waitFor(wanted: (notification: Notification) => boolean, timeoutMs: number, what: string): Promise<Notification> {
		let wake = () => undefined as void;
		const wait = new Promise<Notification>((resolve) => {
			wake = () => {
				const notification = this.notifications.find(wanted);
				if (notification) resolve(notification);
			};
			this.listeners.add(wake);
			wake();
		});
		try {
			return await within(timeoutMs, wait, what);
		} finally {
			this.listeners.delete(wake);
		}
	}

	async initialize(protocolVersion = PROTOCOL_VERSION): Promise<any> {
		const result = await this.request('initialize', initializeParams(protocolVersion));
		await this.notify('initialized', {});
		return result;
	}

	async login(user: string, password: string): Promise<any> {
		return this.request('auth/password', { user, password }, { timeoutMs: 60_000 });
	}

	/** Resolves true when the server closes the connection within `ms`. */
	closesWithin(ms: number): Promise<boolean> {
		return Promise.race([this.closed.then(() => true), sleep(ms).then(() => false)]);
	}

	destroy(): void {
		this.connection.dispose();
		this.socket.destroy();
	}
}

/** Awaits `answer` and insists on an error with `code`; returns the error for further checks. */
export async function expectError(answer: Promise<unknown>, code: number, what: string): Promise<ResponseError<unknown>> {
	let result: unknown;
	try {
		result = await answer;
	} catch (error) {
		if (!(error instanceof ResponseError)) throw error;
		assert(error.code === code, `${what}: expected ${codeName(code)}, got ${codeName(error.code)}: ${error.message}`);
		return error;
	}
	throw new CheckFailure(`${what}: expected ${codeName(code)}, got the result ${JSON.stringify(result)?.slice(0, 200)}`);
}

/** The most a check reads from one server frame; nothing this suite asks for comes near it. */
const maxFrameBytes = 64 * 1024 * 1024;

/**
 * A connection for hand-made bytes: it writes exactly what it is given and
 * parses the server's frames itself, so nothing hides what came back.
 */
export class RawPeer {
	private buffer = Buffer.alloc(0);
	private readonly messages: any[] = [];
	private readonly listeners = new Set<() => void>();
	/** Bytes received in all, parsed or not: "no response" means this stays 0. */
	received = 0;
	/** Set when the server's own framing was broken. */
	problem: string | undefined;
	readonly closed: Promise<void>;

	private constructor(readonly socket: TLSSocket) {
		this.closed = new Promise((resolve) => socket.once('close', () => resolve()));
		socket.on('data', (chunk: Buffer) => {
			this.received += chunk.length;
			this.buffer = Buffer.concat([this.buffer, chunk]);
			this.parse();
			for (const wake of this.listeners) wake();
		});
		socket.on('close', () => {
			for (const wake of this.listeners) wake();
		});
	}

	static async open(target: Target): Promise<RawPeer> {
		return new RawPeer(await openVerified(target, ALPN_PROTOCOL));
	}

	write(bytes: string | Buffer): void {
		if (!this.socket.destroyed) this.socket.write(bytes);
	}

	/** One frame, header and content in one write. */
	send(message: unknown): void {
		const body = Buffer.from(JSON.stringify(message));
		this.write(Buffer.concat([Buffer.from(`Content-Length: ${body.length}\r\n\r\n`), body]));
	}

	/** The next message from the server; throws if the connection closes or nothing comes within `ms`. */
	async next(ms = 10_000): Promise<any> {
		let wake = () => undefined as void;
		const wait = new Promise<any>((resolve, reject) => {
			wake = () => {
				if (this.messages.length > 0) resolve(this.messages.shift());
				else if (this.socket.destroyed || this.problem) reject(new CheckFailure(this.problem ?? 'the server closed the connection without an answer'));
			};
			this.listeners.add(wake);
			wake();
		});
		try {
			return await within(ms, wait, 'a message from the server');
		} finally {
			this.listeners.delete(wake);
		}
	}

	/** Sends a request and returns the response with its id, skipping notifications. */
	async request(id: number | string, method: string, params?: unknown, ms?: number): Promise<any> {
		this.send({ jsonrpc: '2.0', id, method, ...(params === undefined ? {} : { params }) });
		for (;;) {
			const message = await this.next(ms);
			if (message && typeof message === 'object' && 'id' in message && message.id === id) return message;
		}
	}

	async initialize(): Promise<void> {
		const answer = await this.request('init', 'initialize', initializeParams());
		assert(answer.result, `initialize failed: ${JSON.stringify(answer.error)}`);
	}

	async login(user: string, password: string): Promise<void> {
		const answer = await this.request('login', 'auth/password', { user, password }, 60_000);
		assert(answer.result, `login failed: ${JSON.stringify(answer.error)}`);
	}

	closesWithin(ms: number): Promise<boolean> {
		return Promise.race([this.closed.then(() => true), sleep(ms).then(() => false)]);
	}

	destroy(): void {
		this.socket.destroy();
	}

	private parse(): void {
		for (;;) {
			const end = this.buffer.indexOf('\r\n\r\n');
			if (end === -1) return;
			const header = this.buffer.subarray(0, end).toString('latin1');
			const length = /^content-length:\s*(\d{1,16})\s*$/im.exec(header)?.[1];
			if (length === undefined || Number(length) > maxFrameBytes) {
				this.problem = `the server sent a frame without a usable Content-Length: ${JSON.stringify(header.slice(0, 200))}`;
				this.socket.destroy();
				return;
			}
			const total = end + 4 + Number(length);
			if (this.buffer.length < total) return;
			const body = this.buffer.subarray(end + 4, total).toString('utf8');
			this.buffer = this.buffer.subarray(total);
			try {
				this.messages.push(JSON.parse(body));
			} catch {
				this.problem = `the server sent content that is not JSON: ${JSON.stringify(body.slice(0, 200))}`;
				this.socket.destroy();
				return;
			}
		}
	}
}
