import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect as tlsConnect, type TLSSocket } from 'node:tls';
import type { ExecutionContext } from 'ava';
import { connect, KnownHosts, type ConnectOptions, type RemoteSession } from '@spyder-remote/client';
import { createLogger, resolveConfig, startServer, type RunningServer } from '@spyder-remote/server';
import { FrameDecoder, encodeFrame, parseMessage } from '@spyder-remote/protocol/node';
import { pino, type Logger } from 'pino';
import { isRoot } from './os-users.js';

export interface TestServer {
	readonly server: RunningServer;
	readonly directory: string;
	/** Connects with the server's fingerprint pinned explicitly and no known_hosts file. */
	open(options?: Partial<ConnectOptions>): Promise<RemoteSession>;
	stop(): Promise<void>;
}

export interface TestServerOptions {
	/** Every log record from info up, parsed, for tests of what the server logs; stderr still gets the configured level. */
	readonly onLog?: (record: LogRecord) => void;
}

export interface LogRecord {
	readonly level: number;
	readonly msg: string;
	readonly [field: string]: unknown;
}

/**
 * What every test daemon runs with: system mode on a loopback port, state
 * and runtime directories below `directory`, no failure delay, and no
 * responder (tests that are not about discovery should not each run one on
 * the shared loopback). Both the in-process server and ssd-server as a
 * child process start from this.
 */
export function testConfig(directory: string) {
	return {
		mode: 'system',
		listen: { host: '127.0.0.1', port: 0 },
		stateDir: join(directory, 'state'),
		runtimeDir: join(directory, 'run'),
		auth: { failureDelayMs: 0 },
		discovery: { enabled: false },
	};
}

/** A real ssd-server on a loopback port, in system mode, with throwaway state and runtime directories. */
export async function startTestServer(overrides: Record<string, unknown> = {}, options: TestServerOptions = {}): Promise<TestServer> {
	const directory = await mkdtemp(join(tmpdir(), 'ssd-test-'));
	// Session hosts run as the test users and must be able to reach their socket below here.
	await chmod(directory, 0o711);
	const config = resolveConfig({ ...testConfig(directory), logLevel: process.env.SSD_TEST_LOG_LEVEL ?? 'warn' }, overrides);
	const server = await startServer(config, options.onLog ? capturingLogger(config.logLevel, options.onLog) : createLogger(config.logLevel, { test: true }));
	return {
		server,
		directory,
		open: (options = {}) => connect({ host: '127.0.0.1', port: server.port, fingerprint: server.fingerprint, knownHosts: false, ...options }),
		async stop() {
			await server.close();
			await rm(directory, { recursive: true, force: true });
		},
	};
}

function capturingLogger(level: string, onLog: (record: LogRecord) => void): Logger {
	const shown = pino.levels.values[level] ?? pino.levels.values.info!;
	const stream = {
		write(line: string) {
			const record = JSON.parse(line) as LogRecord;
			onLog(record);
			if (record.level >= shown) process.stderr.write(line);
		},
	};
	return pino({ level: shown < pino.levels.values.info! ? level : 'info', base: { pid: process.pid, test: true } }, stream);
}

/** A client config directory of its own, so known_hosts and keys never touch the real ones. */
export async function temporaryKnownHosts(): Promise<KnownHosts> {
	return new KnownHosts(join(await mkdtemp(join(tmpdir(), 'ssd-known-')), 'known_hosts'));
}

/** A bare TLS connection for sending hand-made bytes, with a frame reader for the answers. */
export class RawClient {
	private readonly decoder = new FrameDecoder();
	private readonly messages: unknown[] = [];
	private waiters: (() => void)[] = [];
	readonly closed: Promise<void>;

	private constructor(readonly socket: TLSSocket) {
		socket.on('data', (chunk: Buffer) => {
			this.decoder.push(chunk);
			for (let body = this.decoder.next(); body; body = this.decoder.next()) this.messages.push(parseMessage(body));
			for (const wake of this.waiters.splice(0)) wake();
		});
		this.closed = new Promise((resolve) => socket.once('close', () => resolve()));
		socket.on('error', () => undefined);
	}

	static open(port: number): Promise<RawClient> {
		return new Promise((resolve, reject) => {
			const socket = tlsConnect({ host: '127.0.0.1', port, rejectUnauthorized: false, ALPNProtocols: ['spyder-remote/1'] }, () =>
				resolve(new RawClient(socket)),
			);
			socket.once('error', reject);
		});
	}

	sendBytes(bytes: Buffer | string): void {
		this.socket.write(bytes);
	}

	send(message: object): void {
		this.socket.write(encodeFrame(Buffer.from(JSON.stringify({ jsonrpc: '2.0', ...message }))));
	}

	/** The next message received, waiting up to `timeoutMs`. */
	async next(timeoutMs = 5000): Promise<any> {
		const deadline = Date.now() + timeoutMs;
		while (this.messages.length === 0) {
			if (Date.now() > deadline || this.socket.destroyed) throw new Error('no message arrived');
			await Promise.race([new Promise<void>((resolve) => this.waiters.push(resolve)), new Promise((resolve) => setTimeout(resolve, 50))]);
		}
		return this.messages.shift();
	}

	async request(id: number, method: string, params?: unknown, timeoutMs?: number): Promise<any> {
		this.send({ id, method, ...(params === undefined ? {} : { params }) });
		return this.next(timeoutMs);
	}

	async initialize(protocolVersion = '0.1.0'): Promise<any> {
		return this.request(0, 'initialize', { protocolVersion, clientInfo: { name: 'raw-test' }, capabilities: {} });
	}

	/** Resolves true when the server closes the connection within `timeoutMs`. */
	async closesWithin(timeoutMs: number): Promise<boolean> {
		return Promise.race([this.closed.then(() => true), new Promise<boolean>((resolve) => setTimeout(() => resolve(false), timeoutMs))]);
	}

	destroy(): void {
		this.socket.destroy();
	}
}

/** Fails the test with a clear reason when not root: these tests make OS users and run setpriv. */
export function requireRoot(t: ExecutionContext): void {
	if (!isRoot) t.fail('this test needs root: it creates OS users and starts session hosts with setpriv');
}
